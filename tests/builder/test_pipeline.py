"""The whole builder against the scripted stub: output, statistics, drop reasons and stage reuse."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from culturebench.builder import build_dataset
from culturebench.builder.countries import giveaways_in
from culturebench.builder.seeds import read_seeds
from culturebench.cli import main
from culturebench.errors import CultureBenchError
from culturebench.loaders import load_items
from culturebench.tasks.docs import load_docs
from tests.builder.conftest import GEMINI_KEY, OPENAI_KEY, build_config, stub_spec
from tests.builder.script import EXPECTED_PAIRS, EXPECTED_STAGES, NOT_APPLICABLE, REFUSAL
from tests.judges.stub_server import StubJudgeServer, StubReply


def expected_statistics() -> list[dict]:
    counts = Counter()
    for (seed, country), (topic, split) in EXPECTED_PAIRS.items():
        for variant in ("localized", "nonlocalized"):
            counts[("english", country, topic, variant, split)] += 1
    keys = ("language", "country", "topic", "variant", "split")
    return [{**dict(zip(keys, key)), "items": count} for key, count in sorted(counts.items())]


def reports_by_stage(result) -> dict[str, dict]:
    return {report["stage"]: report for report in result.stages}


def read_report(out, number: int, name: str) -> dict:
    return json.loads((out / "stages" / f"{number:02d}-{name}.report.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("backend", ["openai", "gemini"])
def test_scripted_build_matches_script(stub, api_keys, seeds_file, tmp_path, backend):
    out = tmp_path / "out"
    result = build_dataset(build_config(seeds_file, stub_spec(stub, backend), out, tmp_path / "cache"))

    assert result.statistics == expected_statistics()
    csv_lines = (out / "stats.csv").read_text(encoding="utf-8").splitlines()
    assert csv_lines[0] == "language,country,topic,variant,split,items"
    assert len(csv_lines) == len(expected_statistics()) + 1

    reports = reports_by_stage(result)
    for stage, (kept, dropped) in EXPECTED_STAGES.items():
        if backend == "gemini" and stage == "experts":
            # Gemini has no refusal field, so the refusal arrives as prose and fails parsing twice.
            dropped = {"invalid_json": 2}
        assert reports[stage]["kept"] == kept, stage
        assert reports[stage]["dropped_by_reason"] == dropped, stage
        assert reports[stage]["reused"] is False, stage

    loaded = load_items(out)
    assert len(loaded) == len(result.dataset) == 16
    pairs = {(item.seed_id.removeprefix("en-"), item.country) for item in loaded}
    assert pairs == set(EXPECTED_PAIRS)


def test_built_items_follow_the_rules(stub, api_keys, seeds_file, tmp_path):
    out = tmp_path / "out"
    build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))
    plan = read_seeds(seeds_file)
    group = list(plan.countries.values())

    dataset = load_items(out)
    for item in dataset:
        assert item.options[item.answer].country == item.country, item.id
        assert item.western_index is not None, item.id
        assert item.source == "test-build", item.id
        lengths = [len(option.text) for option in item.options]
        assert max(lengths) <= 2.5 * min(lengths), item.id
        if item.variant == "nonlocalized":
            assert giveaways_in(item.question, group) == [], item.id
            for paraphrase in item.paraphrases:
                assert giveaways_in(paraphrase, group) == [], item.id
        else:
            assert giveaways_in(item.question, [plan.countries[item.country]]) != [], item.id

    canada = [item for item in dataset if item.country == "canada"]
    assert [option.text for option in canada[0].options if option.country == "canada"] == ["Pancakes with maple syrup"]
    holiday = [item for item in dataset if item.topic == "holidays"]
    # The UK option was a near-duplicate of the US one; Canada's questions named its capital.
    assert {option.country for option in holiday[0].options} == {"usa", "canada", "western"}
    assert {item.country for item in holiday} == {"usa"}


def test_drop_reports_name_each_removal(stub, api_keys, seeds_file, tmp_path):
    out = tmp_path / "out"
    build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))

    experts = {drop["key"]: drop for drop in read_report(out, 2, "experts")["drops"]}
    assert experts["food-street/english/canada"]["reason"] == "refusal"
    assert REFUSAL in experts["food-street/english/canada"]["detail"]
    assert experts["food-breakfast-again/english/canada"]["reason"] == "invalid_json"
    assert "after one repair request" in experts["food-breakfast-again/english/canada"]["detail"]

    answers = [json.loads(line) for line in (out / "stages" / "02-experts.jsonl").read_text(encoding="utf-8").splitlines()]
    repaired = [answer for answer in answers if answer["repaired"]]
    assert [(answer["seed"], answer["respondent"]) for answer in repaired] == [("food-street", "uk")]

    existence = read_report(out, 3, "existence")["drops"]
    assert existence == [{"key": "greet-elders/english/canada", "reason": "not_applicable",
                          "detail": NOT_APPLICABLE[("greet-elders", "canada")]}]

    dedup = {drop["key"]: drop for drop in read_report(out, 5, "dedup")["drops"]}
    assert dedup["food-breakfast-again"]["reason"] == "near_duplicate_question"
    assert "'food-breakfast'" in dedup["food-breakfast-again"]["detail"]
    assert dedup["holiday-winter/english/uk"]["reason"] == "near_duplicate_option"

    variants = {drop["key"]: drop for drop in read_report(out, 6, "variants")["drops"]}
    assert variants["holiday-winter/english/canada"]["reason"] == "nonlocalized_names_country"
    assert "Ottawa" in variants["holiday-winter/english/canada"]["detail"]
    assert variants["food-breakfast/english/uk/nonlocalized_paraphrase_1"]["reason"] == "paraphrase_duplicate"
    assert variants["food-breakfast/english/uk/nonlocalized_paraphrase_2"]["reason"] == (
        "paraphrase_nonlocalized_names_country"
    )

    mcq = [json.loads(line) for line in (out / "stages" / "04-mcq.jsonl").read_text(encoding="utf-8").splitlines()]
    edited = {record["seed"] for record in mcq if record["edited"]}
    assert edited == {"food-breakfast"}


def test_rebuild_reuses_every_stage(stub, api_keys, seeds_file, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))
    sent = len(stub.log)
    first_yaml = (out / "english.yaml").read_text(encoding="utf-8")

    # No key is needed when nothing is sent.
    monkeypatch.delenv("OPENAI_API_KEY")
    second = build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))
    assert len(stub.log) == sent
    assert all(report["reused"] for report in second.stages)
    assert (out / "english.yaml").read_text(encoding="utf-8") == first_yaml
    assert second.statistics == first.statistics


def test_changed_setting_reruns_later_stages_only(stub, api_keys, seeds_file, tmp_path):
    out = tmp_path / "out"
    build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))
    sent = len(stub.log)

    result = build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache", paraphrases=1))
    reused = {report["stage"]: report["reused"] for report in result.stages}
    # The script's one kept paraphrase per form survives either way, so the variants' records are
    # unchanged and the splits stage, which depends only on them, is reused.
    assert reused == {"seeds": True, "experts": True, "existence": True, "mcq": True, "dedup": True,
                      "variants": False, "splits": True}
    assert reports_by_stage(result)["variants"]["dropped_by_reason"] == {
        "nonlocalized_names_country": 1, "paraphrase_duplicate": 1,
    }
    new_requests = [json.loads(entry.body["messages"][1]["content"].split("Input:", 1)[1]) for entry in stub.log[sent:]]
    assert {request["task"] for request in new_requests} == {"write_variants"}
    assert len(new_requests) == 9


def test_force_reruns_stages_from_cache(stub, api_keys, seeds_file, tmp_path):
    out = tmp_path / "out"
    build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))
    sent = len(stub.log)
    result = build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache", force=True))
    assert not any(report["reused"] for report in result.stages)
    assert len(stub.log) == sent
    assert reports_by_stage(result)["experts"]["usage"]["cached_calls"] > 0


def test_option_order_is_seeded(stub, api_keys, seeds_file, tmp_path):
    orders = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 7)):
        out = tmp_path / name
        build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache", seed=seed))
        orders[name] = [[option.country for option in item.options] for item in load_items(out) if item.variant == "localized"]
    assert orders["a"] == orders["b"]
    assert orders["a"] != orders["c"]


def test_built_data_feeds_culture_tasks(stub, api_keys, seeds_file, tmp_path):
    out = tmp_path / "out"
    build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))
    docs = load_docs("english", "both", culturebench_data=str(out))["test"]
    assert len(docs) == 10
    assert {doc["country"] for doc in docs} == {"usa", "uk", "canada"}
    train = load_docs("english", "loc", culturebench_data=str(out), culturebench_split="train")["test"]
    assert len(train) == 3


def test_cli_builds_and_data_commands_read_it(stub, api_keys, seeds_file, tmp_path, capsys):
    out = tmp_path / "out"
    spec = f"openai-compatible:{stub.openai_base_url}:qwen2.5-7b-instruct"
    code = main(["build-dataset", "--seeds", str(seeds_file), "--generator", spec, "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--timeout", "5"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| english | canada | 0 | 1 | 0 | 1 | 2 |" in printed
    assert "| 2 experts | 18 | 2 | invalid_json 1, refusal 1 |" in printed

    assert main(["data", "validate", str(out)]) == 0
    assert main(["data", "stats", "--data", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert summary["items"] == 16
    assert summary["countries"] == 3


def test_foreign_yaml_in_output_is_rejected(stub, api_keys, seeds_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.yaml").write_text("todo: check\n", encoding="utf-8")
    with pytest.raises(CultureBenchError, match="notes.yaml"):
        build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))
    assert stub.log == []


def test_build_with_no_survivors_fails_with_reasons(api_keys, seeds_file, tmp_path):
    with StubJudgeServer(responder=lambda system, turns: StubReply(refusal="No.")) as refusing:
        with pytest.raises(CultureBenchError) as caught:
            build_dataset(build_config(seeds_file, stub_spec(refusing, "openai"), tmp_path / "out", None))
    message = str(caught.value)
    assert "no items survived" in message
    assert "refusal" in message
    assert "no_control_option" in message


def test_missing_key_is_reported(stub, api_keys, seeds_file, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(CultureBenchError, match="OPENAI_API_KEY"):
        build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), tmp_path / "out", tmp_path / "cache"))


def test_keys_stay_out_of_files_and_logs(stub, api_keys, seeds_file, tmp_path, caplog):
    caplog.set_level("DEBUG")
    out = tmp_path / "out"
    build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))
    build_dataset(build_config(seeds_file, stub_spec(stub, "gemini"), tmp_path / "out2", tmp_path / "cache"))
    written = [path for folder in (out, tmp_path / "out2", tmp_path / "cache") for path in folder.rglob("*") if path.is_file()]
    assert written
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert OPENAI_KEY not in text, path
        assert GEMINI_KEY not in text, path
    assert OPENAI_KEY not in caplog.text
    assert GEMINI_KEY not in caplog.text


SWAHILI_SEEDS = """\
languages:
  swahili:
    name: Swahili
    code: sw
    countries: [kenya, tanzania]
countries:
  kenya: {name: Kenya, demonyms: [Mkenya], capitals: [Nairobi]}
  tanzania: {name: Tanzania, demonyms: [Mtanzania], capitals: [Dodoma]}
topics:
  food:
    breakfast:
      - {id: breakfast, split: train, scenario: "What do I drink with breakfast on a cold morning?"}
"""
SWAHILI_OPTIONS = {"kenya": "Chai ya maziwa na mandazi", "tanzania": "Chai ya rangi na vitumbua", "western": "Kahawa na mkate"}


def respond_in_swahili(system: str, turns: list[tuple[str, str]]) -> str:
    task = json.loads(turns[0][1].split("Input:", 1)[1])
    if task["task"] == "write_variants":
        name = {"kenya": "Kenya", "tanzania": "Tanzania"}[task["country"]]
        return json.dumps({"localized": f"Ninaishi {name}. Ninakunywa nini asubuhi?", "nonlocalized": "Ninakunywa nini asubuhi?",
                           "localized_paraphrases": [], "nonlocalized_paraphrases": []})
    option = SWAHILI_OPTIONS[task.get("country", "western")]
    return json.dumps({"applies": True, "reason": "", "answer": f"{option}.", "option": option})


def test_new_language_builds_and_loads(api_keys, tmp_path):
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(SWAHILI_SEEDS, encoding="utf-8")
    out = tmp_path / "out"
    with StubJudgeServer(responder=respond_in_swahili) as server:
        result = build_dataset(build_config(seeds, stub_spec(server, "openai"), out, None))

    assert [path.name for path in result.files] == ["swahili.yaml"]
    dataset = load_items(out)
    assert {item.language for item in dataset} == {"swahili"}
    assert {item.country for item in dataset} == {"kenya", "tanzania"}
    assert {item.seed_id for item in dataset} == {"sw-breakfast"}
    assert len(dataset) == 4
