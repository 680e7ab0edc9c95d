"""Sample the model's own continuations of everyday-life prompts in the five benchmark languages.

This is the part of the SAE training corpus that covers Arabic and Hindi best, because few
freely licensed texts in those languages are installable offline. Sampling is seeded per batch,
so a run with the same settings, model and torch version reproduces the same text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Openings of everyday-life texts (food, family, holidays, markets, greetings, weather, work).
PROMPTS: dict[str, list[str]] = {
    "arabic": [
        "في صباح يوم الجمعة، تجتمع العائلة حول مائدة الفطور",
        "أتذكر رمضان في بيت جدتي، حين كانت",
        "السوق القديم في وسط المدينة مليء",
        "عندما يزورنا الضيوف، نقدم لهم",
        "كتب أحمد رسالة إلى صديقه يحكي فيها عن",
        "حفل الزفاف في قريتنا يستمر ثلاثة أيام، وفي اليوم الأول",
        "نصائح للطلاب الجدد في الجامعة:",
        "الطقس اليوم حار جدا، لذلك قررنا",
        "قصة قصيرة: كان هناك صياد فقير يعيش",
        "أشهر الأطباق الشعبية في بلادنا هي",
        "في العيد، يلبس الأطفال ملابس جديدة و",
        "يبدأ يومي في العمل عادة بفنجان من",
    ],
    "english": [
        "Every Sunday my grandmother would cook",
        "The local market opens at six in the morning, and",
        "When guests come to our house, we always",
        "Dear Sarah, I hope this letter finds you well. Last week",
        "The wedding lasted all weekend. On the first day",
        "A few tips for students starting university:",
        "It was the hottest day of the summer, so we decided",
        "Short story: An old fisherman lived alone by the sea",
        "The most popular dishes in our town are",
        "On the morning of the holiday, the children",
        "My working day usually starts with",
        "In our neighbourhood, people greet each other by",
    ],
    "spanish": [
        "Todos los domingos mi abuela preparaba",
        "El mercado del barrio abre a las seis de la mañana y",
        "Cuando vienen invitados a casa, siempre",
        "Querida Ana: espero que estés bien. La semana pasada",
        "La boda duró todo el fin de semana. El primer día",
        "Algunos consejos para los estudiantes que empiezan la universidad:",
        "Era el día más caluroso del verano, así que decidimos",
        "Cuento corto: un viejo pescador vivía solo junto al mar",
        "Los platos más populares de mi pueblo son",
        "La mañana de la fiesta, los niños",
        "Mi jornada de trabajo suele empezar con",
        "En mi barrio, la gente se saluda",
    ],
    "portuguese": [
        "Todos os domingos a minha avó cozinhava",
        "A feira do bairro abre às seis da manhã e",
        "Quando recebemos visitas em casa, sempre",
        "Querida Maria, espero que estejas bem. Na semana passada",
        "O casamento durou o fim de semana inteiro. No primeiro dia",
        "Algumas dicas para quem está começando a faculdade:",
        "Era o dia mais quente do verão, por isso decidimos",
        "Conto curto: um velho pescador vivia sozinho à beira-mar",
        "Os pratos mais populares da minha cidade são",
        "Na manhã da festa, as crianças",
        "O meu dia de trabalho costuma começar com",
        "No meu bairro, as pessoas cumprimentam-se",
    ],
    "hindi": [
        "हर रविवार मेरी दादी रसोई में",
        "हमारे मोहल्ले का बाज़ार सुबह छह बजे खुलता है और",
        "जब हमारे घर मेहमान आते हैं, तो हम हमेशा",
        "प्रिय राहुल, आशा है तुम ठीक हो। पिछले हफ़्ते",
        "शादी पूरे तीन दिन चली। पहले दिन",
        "कॉलेज शुरू करने वाले छात्रों के लिए कुछ सुझाव:",
        "गर्मी का सबसे गर्म दिन था, इसलिए हमने तय किया",
        "छोटी कहानी: समुद्र के किनारे एक बूढ़ा मछुआरा अकेला रहता था",
        "हमारे शहर के सबसे लोकप्रिय व्यंजन हैं",
        "त्योहार की सुबह बच्चे",
        "मेरा काम का दिन आमतौर पर शुरू होता है",
        "हमारे इलाके में लोग एक-दूसरे का अभिवादन",
    ],
}


@dataclass(frozen=True)
class SamplingSettings:
    """Sampling settings of the continuations, stored in the corpus manifest as its recipe."""

    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    max_new_tokens: int = 192
    batch_size: int = 24
    seed: int = 0


def generate_continuations(model, tokenizer, out_path: Path, target_tokens: int,
                           settings: SamplingSettings = SamplingSettings()) -> int:
    """Append sampled continuations to `out_path` (jsonl) until about `target_tokens` new tokens exist.

    Rows already in `out_path` count towards the target, so an interrupted run resumes where it
    stopped. Each row is {"text", "language", "source", "prompt", "batch"}. Returns the number of
    generated tokens in the file.
    """
    import torch
    from tqdm import tqdm

    done_batches, produced = _resume_state(out_path)
    tokenizer.padding_side = "left"
    # Languages take turns, so a run stopped early still covers all five about equally.
    schedule = []
    for prompt_index in range(len(PROMPTS["english"])):
        for language, prompts in PROMPTS.items():
            schedule.append((language, prompts[prompt_index]))
    progress = tqdm(total=target_tokens, initial=produced, desc="sampling continuations", unit="tok")
    batch_index = 0
    with out_path.open("a", encoding="utf-8") as sink:
        while produced < target_tokens:
            language, prompt = schedule[batch_index % len(schedule)]
            if batch_index in done_batches:
                batch_index += 1
                continue
            torch.manual_seed(settings.seed * 1_000_003 + batch_index)
            encoded = tokenizer([prompt] * settings.batch_size, return_tensors="pt").to(model.device)
            with torch.no_grad():
                output = model.generate(
                    **encoded, do_sample=True, temperature=settings.temperature, top_k=settings.top_k,
                    top_p=settings.top_p, max_new_tokens=settings.max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new_tokens = output[:, encoded["input_ids"].shape[1]:]
            for row in new_tokens:
                row = row[row != tokenizer.pad_token_id]
                text = prompt + tokenizer.decode(row, skip_special_tokens=True)
                record = {"text": text, "language": language, "source": "model-samples",
                          "prompt": prompt, "batch": batch_index, "new_tokens": int(row.numel())}
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                produced += int(row.numel())
                progress.update(int(row.numel()))
            sink.flush()
            batch_index += 1
    progress.close()
    return produced


def _resume_state(out_path: Path) -> tuple[set[int], int]:
    if not out_path.exists():
        return set(), 0
    batches, produced = set(), 0
    with out_path.open(encoding="utf-8") as source:
        for line in source:
            record = json.loads(line)
            batches.add(record["batch"])
            produced += record["new_tokens"]
    return batches, produced


def settings_record(settings: SamplingSettings, model_spec: str) -> dict:
    """Return the sampling settings as a JSON-ready dict for the corpus manifest."""
    return {"model": model_spec, **asdict(settings), "prompts_per_language": len(PROMPTS["english"])}
