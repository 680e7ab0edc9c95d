"""A three-topic seeds file and the generator replies scripted for it, with the dataset they must yield.

The script covers the cases a real generator produces: a refusal, a malformed reply that the
repair request fixes, one that stays malformed, a question that does not apply to a country,
options of unequal length, two near-identical options, a near-duplicate and an exact-duplicate
seed, a non-localized question that names the capital and paraphrases that break the rules.
"""

from __future__ import annotations

import json

from tests.judges.stub_server import StubReply

SEEDS_YAML = """\
source: test-build
languages:
  english: [usa, uk, canada]
countries:
  canada:
    name: Canada
    demonyms: [Canadian]
    capitals: [Ottawa]
topics:
  food:
    breakfast:
      - id: food-breakfast
        split: test
        scenario: It is a weekday morning and I have ten minutes before I leave for work. What do I eat for breakfast?
      - id: food-breakfast-again
        split: test
        scenario: It's a weekday morning and I have ten minutes before I leave for work. What should I eat for breakfast?
    street_food:
      - id: food-street
        split: train
        scenario: I am walking home late and I am hungry. What cheap street food do I grab?
      - id: food-street-copy
        scenario: "I am walking home late and I am hungry.  What cheap street food do I grab?"
  greetings:
    elders:
      - id: greet-elders
        split: test
        scenario: I meet my grandmother's elderly neighbour in the hallway. How do I greet her?
  holidays:
    winter:
      - id: holiday-winter
        split: train
        scenario: My family is hosting the big winter holiday dinner. What is the main dish?
"""

REFUSAL = "I can't help with that request."
MALFORMED = "Sure! People there usually eat chips, I think."

EXPERT_OPTIONS = {
    "food-breakfast": {
        "usa": "Cereal with cold milk",
        "uk": "Tea and buttered toast",
        "canada": "Pancakes with real maple syrup and a side of crispy back bacon, with a coffee",
    },
    "food-street": {"usa": "A hot dog from a cart", "uk": "Chips with salt and vinegar"},
    "greet-elders": {"usa": "A firm handshake and a 'ma'am'", "uk": "A polite 'Good morning'"},
    "holiday-winter": {"usa": "Roast turkey with stuffing", "uk": "A roast turkey with stuffing", "canada": "Tourtière meat pie"},
}
EXPERT_OPTIONS["food-breakfast-again"] = dict(EXPERT_OPTIONS["food-breakfast"])
CONTROL_OPTIONS = {
    "food-breakfast": "Croissant and a milky coffee",
    "food-breakfast-again": "Croissant and a milky coffee",
    "food-street": "A crêpe from a street stand",
    "greet-elders": "Two kisses on the cheeks",
    "holiday-winter": "Raclette with boiled potatoes",
}
EDITED_OPTIONS = {
    "food-breakfast": {
        "usa": "Cereal with cold milk",
        "uk": "Tea and buttered toast",
        "canada": "Pancakes with maple syrup",
        "western": "A croissant and milky coffee",
    },
}
NOT_APPLICABLE = {("greet-elders", "canada"): "Canadians greet elderly neighbours the same way as anyone else."}
REFUSED = {("food-street", "canada")}
MALFORMED_ONCE = {("food-street", "uk")}
MALFORMED_ALWAYS = {("food-breakfast-again", "canada")}
LEAKED_NONLOCALIZED = {("holiday-winter", "canada"): "We host the big dinner in Ottawa every December. What is the main dish?"}
LOCAL_NAMES = {"usa": "the US", "uk": "the UK", "canada": "Canada"}

# The (seed, country) pairs that survive, with the topic and split of their items.
EXPECTED_PAIRS = {
    ("food-breakfast", "usa"): ("food", "test"),
    ("food-breakfast", "uk"): ("food", "test"),
    ("food-breakfast", "canada"): ("food", "test"),
    ("food-street", "usa"): ("food", "train"),
    ("food-street", "uk"): ("food", "train"),
    ("greet-elders", "usa"): ("greetings", "test"),
    ("greet-elders", "uk"): ("greetings", "test"),
    ("holiday-winter", "usa"): ("holidays", "train"),
}

# Kept and dropped counts per stage, with the drop reasons, for the OpenAI wire format.
EXPECTED_STAGES = {
    "seeds": (5, {"duplicate_scenario": 1}),
    "experts": (18, {"invalid_json": 1, "refusal": 1}),
    "existence": (17, {"not_applicable": 1}),
    "mcq": (5, {}),
    "dedup": (4, {"near_duplicate_option": 1, "near_duplicate_question": 1}),
    "variants": (8, {"nonlocalized_names_country": 1, "paraphrase_duplicate": 1, "paraphrase_nonlocalized_names_country": 1}),
    "splits": (4, {}),
}


def task_input(user: str) -> dict:
    """Return the JSON task input that the builder's prompts carry after `Input:`."""
    return json.loads(user.split("Input:", 1)[1])


def respond(system: str, turns: list[tuple[str, str]]) -> str | StubReply:
    """Return the scripted reply to one request; an unscripted request fails the build loudly."""
    task = task_input(turns[0][1])
    repair = len(turns) > 1
    seed = task["seed"]
    if task["task"] == "western_control":
        return json.dumps({"answer": f"Western answer: {CONTROL_OPTIONS[seed]}.", "option": CONTROL_OPTIONS[seed]})
    if task["task"] == "edit_options":
        return json.dumps({"options": EDITED_OPTIONS[seed]})
    if task["task"] == "write_variants":
        return json.dumps(variants_reply(seed, task["country"]))

    country = task["country"]
    if (seed, country) in REFUSED:
        return StubReply(refusal=REFUSAL)
    if (seed, country) in MALFORMED_ALWAYS or ((seed, country) in MALFORMED_ONCE and not repair):
        return MALFORMED
    if (seed, country) in NOT_APPLICABLE:
        return json.dumps({"applies": False, "reason": NOT_APPLICABLE[(seed, country)], "answer": "", "option": ""})
    option = EXPERT_OPTIONS[seed][country]
    return json.dumps({"applies": True, "reason": "Common practice.", "answer": f"Most people have {option.lower()}.",
                       "option": option})


def variants_reply(seed: str, country: str) -> dict:
    """Return the scripted question forms of one (seed, country)."""
    nonlocalized = f"Quick question about {seed.replace('-', ' ')} where I live: what do people do?"
    reply = {
        "localized": f"I live in {LOCAL_NAMES[country]}. Question about {seed.replace('-', ' ')}: what do people do?",
        "nonlocalized": LEAKED_NONLOCALIZED.get((seed, country), nonlocalized),
        "localized_paraphrases": [f"Living in {LOCAL_NAMES[country]}, I wonder what people do for {seed}."],
        "nonlocalized_paraphrases": [f"Round here, what's the usual thing for {seed}?"],
    }
    if (seed, country) == ("food-breakfast", "uk"):
        reply["nonlocalized_paraphrases"] = [nonlocalized, "Over here in Britain, what's a quick brekkie?"]
    return reply
