"""Check a model card before anything is uploaded (the Hub rejects bad YAML only after the
weights went up: huggingface_hub#1927). Pure: text in, problems out."""

from __future__ import annotations

from typing import Any

import yaml

REQUIRED = ("license",)


def front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """The card's YAML front matter as a mapping, or None and why not."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, "the card does not start with a '---' YAML front matter block"
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        return None, "the YAML front matter has no closing '---'"
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        return None, f"the YAML front matter does not parse: {str(exc).splitlines()[0]}"
    if not isinstance(data, dict):
        return None, "the YAML front matter is not a mapping"
    return data, ""


def card_problems(text: str) -> list[str]:
    """Everything wrong with a card's metadata; empty when it can be published."""
    data, why = front_matter(text)
    if data is None:
        return [why]
    problems = [f"front matter: {key!r} is missing" for key in REQUIRED if not data.get(key)]
    for key in ("language", "tags"):
        value = data.get(key)
        if value is not None and not _str_or_strs(value):
            problems.append(f"front matter: {key!r} must be a string or a list of strings")
    if "model-index" in data:
        problems.extend(_model_index_problems(data["model-index"]))
    return problems


def _str_or_strs(value: object) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )


def _model_index_problems(index: object) -> list[str]:
    """The shape the Hub's model-index parser accepts (name, results, task, dataset, metrics)."""
    if not isinstance(index, list) or not index:
        return ["model-index: must be a non-empty list"]
    problems: list[str] = []
    for i, model in enumerate(index):
        where = f"model-index[{i}]"
        if not isinstance(model, dict) or not isinstance(model.get("name"), str):
            problems.append(f"{where}: needs a 'name'")
            continue
        results = model.get("results")
        if not isinstance(results, list) or not results:
            problems.append(f"{where}.results: must be a non-empty list")
            continue
        for j, result in enumerate(results):
            problems.extend(_result_problems(result, f"{where}.results[{j}]"))
    return problems


def _result_problems(result: object, where: str) -> list[str]:
    if not isinstance(result, dict):
        return [f"{where}: must be a mapping"]
    problems = []
    task = result.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("type"), str):
        problems.append(f"{where}.task.type: missing")
    dataset = result.get("dataset")
    if not isinstance(dataset, dict) or not all(
        isinstance(dataset.get(k), str) for k in ("type", "name")
    ):
        problems.append(f"{where}.dataset: needs 'type' and 'name'")
    metrics = result.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        problems.append(f"{where}.metrics: must be a non-empty list")
    else:
        for k, metric in enumerate(metrics):
            ok = (
                isinstance(metric, dict)
                and isinstance(metric.get("type"), str)
                and isinstance(metric.get("value"), int | float | str)
                and not isinstance(metric.get("value"), bool)
            )
            if not ok:
                problems.append(f"{where}.metrics[{k}]: needs 'type' and a 'value'")
    return problems
