"""Each validation rule, fed a bad row through the jsonl loader, with the message checked."""

import json

import pytest

from culturebench.errors import ValidationError
from culturebench.loaders import load_items


def good_pair(pair="q1-egypt", split="train"):
    options = [
        {"text": "فول وطعمية", "country": "egypt"},
        {"text": "كبسة", "country": "ksa"},
        {"text": "منسف", "country": "levantine"},
        {"text": "كسكس", "country": "morocco"},
        {"text": "شطيرة جبن", "country": "western"},
    ]
    base = dict(
        pair_id=pair, language="arabic", country="egypt", topic="food", subtopic="breakfast",
        options=options, answer=0, gold_open="فول", split=split,
    )
    return [
        dict(base, id=f"{pair}-loc", variant="localized", question="أنا من مصر، بنفطر إيه؟"),
        dict(base, id=f"{pair}-nonloc", variant="nonlocalized", question="بنفطر إيه الصبح يا جماعة؟"),
    ]


def write_rows(tmp_path, rows):
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def error_for(tmp_path, rows):
    path = write_rows(tmp_path, rows)
    with pytest.raises(ValidationError) as caught:
        load_items(path)
    return str(caught.value), str(path)


def test_good_rows_load(tmp_path):
    dataset = load_items(write_rows(tmp_path, good_pair()))
    assert len(dataset) == 2
    assert dataset.items[0].correct_option.country == "egypt"


@pytest.mark.parametrize(
    ("change", "row", "field", "fragment"),
    [
        (dict(language="klingon"), 1, "language", "unknown language 'klingon'"),
        (dict(country="atlantis"), 1, "country", "unknown country 'atlantis'"),
        (dict(country="mexico"), 1, "country", "not in the 'arabic' group"),
        (dict(answer=7), 1, "answer", "index 7 is out of range for 5 options"),
        (dict(answer=-1), 1, "answer", "index -1 is out of range"),
        (dict(options=[{"text": "فول", "country": "egypt"}]), 1, "options", "at least 2"),
        (dict(question="   "), 1, "question", "is missing or empty"),
        (dict(variant="both"), 1, "variant", "unknown variant 'both'"),
        (dict(split="dev"), 1, "split", "unknown split 'dev'"),
        (dict(answer="two"), 1, "answer", "must be an integer"),
    ],
)
def test_bad_field_is_named(tmp_path, change, row, field, fragment):
    rows = good_pair()
    rows[0].update(change)
    message, path = error_for(tmp_path, rows)
    assert path in message
    assert f"row {row}:" in message
    assert f"field '{field}'" in message
    assert fragment in message


def test_duplicate_option_text(tmp_path):
    rows = good_pair()
    for row in rows:
        row["options"] = [dict(o) for o in row["options"]]
        row["options"][2]["text"] = "كبسة"
    message, _ = error_for(tmp_path, rows)
    assert "field 'options[2]'" in message
    assert "duplicates the text of option 1" in message


def test_empty_option_text(tmp_path):
    rows = good_pair()
    rows[1]["options"] = [dict(o) for o in rows[1]["options"]]
    rows[1]["options"][3]["text"] = ""
    message, _ = error_for(tmp_path, rows)
    assert "row 2: field 'options[3]': option text is empty" in message


def test_duplicate_id(tmp_path):
    rows = good_pair() + good_pair(pair="q2-egypt")
    rows[2]["id"] = rows[0]["id"]
    message, _ = error_for(tmp_path, rows)
    assert "row 3: field 'id': duplicate id 'q1-egypt-loc' (first seen at row 1)" in message


def test_pair_disagrees_on_answer(tmp_path):
    rows = good_pair()
    rows[1]["answer"] = 1
    rows[1]["country"] = "egypt"
    message, _ = error_for(tmp_path, rows)
    assert "row 2: field 'answer'" in message
    assert "disagrees with row 1 on the answer" in message


def test_pair_disagrees_on_options(tmp_path):
    rows = good_pair()
    rows[1]["options"] = list(reversed(rows[1]["options"]))
    rows[1]["answer"] = 4
    message, _ = error_for(tmp_path, rows)
    assert "disagrees with row 1 on options" in message


def test_answer_owned_by_other_country(tmp_path):
    rows = good_pair()
    for row in rows:
        row["answer"] = 3
    message, _ = error_for(tmp_path, rows)
    assert "the correct option belongs to 'morocco'" in message


def test_question_in_both_splits(tmp_path):
    rows = good_pair()
    rows[1]["split"] = "test"
    message, _ = error_for(tmp_path, rows)
    assert "field 'split'" in message
    assert "appears in both splits" in message


def test_missing_required_field(tmp_path):
    rows = good_pair()
    del rows[0]["question"]
    message, _ = error_for(tmp_path, rows)
    assert "row 1: field 'question': is missing or empty" in message


def test_invalid_json_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"id": "x"\n', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"row 1: invalid JSON"):
        load_items(path)


def test_skip_invalid_reports_every_row(tmp_path, caplog):
    rows = good_pair() + good_pair(pair="q2-egypt")
    rows[2]["language"] = "klingon"
    rows[3]["answer"] = 9
    dataset = load_items(write_rows(tmp_path, rows), skip_invalid=True)
    assert [item.id for item in dataset] == ["q1-egypt-loc", "q1-egypt-nonloc"]
    assert len(dataset.skipped) >= 2
    assert any("row 3" in line and "'language'" in line for line in dataset.skipped)
    assert any("row 4" in line and "'answer'" in line for line in dataset.skipped)
    assert "skipping invalid row" in caplog.text


def test_csv_rows_numbered_like_a_spreadsheet(tmp_path):
    import pandas as pd

    rows = good_pair()
    rows[1]["country"] = "atlantis"
    frame = pd.DataFrame([dict(row, options=json.dumps(row["options"], ensure_ascii=False)) for row in rows])
    path = tmp_path / "items.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValidationError, match=r"row 3: field 'country'"):
        load_items(path)


def test_non_utf8_file_is_named(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'\xff{"id": "x"}\n')
    with pytest.raises(ValidationError, match=r"not UTF-8 text \(byte 0xff at offset 0\)"):
        load_items(path)


def test_truncated_json_file(tmp_path):
    path = tmp_path / "items.json"
    path.write_text('{"items": [', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"invalid JSON or YAML"):
        load_items(path)


def test_row_that_is_not_an_object(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text("5\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"row 1: field '\*': expected an object, got int"):
        load_items(path)
