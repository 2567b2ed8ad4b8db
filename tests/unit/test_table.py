"""Tables fit the width they are given: values wrap, rows stack when columns would be too
narrow, long values are cut with "…", and the key column (a cell id) is never cut."""

from __future__ import annotations

import pytest

from builder.core.table import MAX_LINES, paragraph, table, wrap
from builder.text import columns

HEADER = ["CELL", "RELEASE", "ENGINE ARGS", "IGNORED BY ENGINE"]
ID = "deepseek-r1-distill-qwen-7b.nvidia.gguf-q4_k_m.llamacpp"
ROWS = [
    [
        ID,
        "FlagRelease/DeepSeek-R1-Distill-Qwen-7B-GGUF-Q4_K_M-nvidia-FlagOS",
        "max_model_len=16384, n_gpu_layers=-1, tensor_parallel_size=1",
        "tensor_parallel_size",
    ],
    ["tiny-llama.cpu.bf16.transformers", "FlagRelease/Tiny-Llama-cpu-FlagOS", "dtype=bfloat16", ""],
]
HOSTILE = [
    ["evil.cpu.bf16.vllm", "x" * 200_000, "\x1b[2J\u202e" * 50, "::error::forged " * 30],
    ["wide.cpu.bf16.vllm", "模型发布" * 40, "a," * 500, "e\u0301" * 300],
]


def widest(lines: list[str]) -> int:
    return max(columns(line) for line in lines)


def test_a_table_that_fits_is_as_it_always_was() -> None:
    lines = table(["A", "BB"], [["x", "y"], ["longer", ""]], 200)
    assert lines == ["A       BB", "------  --", "x       y", "longer"]
    assert table(HEADER, ROWS, None) == table(HEADER, ROWS, 10_000)


@pytest.mark.parametrize("width", [60, 100, 200])
@pytest.mark.parametrize("rows", [ROWS, ROWS + HOSTILE], ids=["recipes", "hostile"])
def test_no_line_passes_the_width(width: int, rows: list[list[str]]) -> None:
    lines = table(HEADER, rows, width)
    assert widest(lines) <= width
    text = "\n".join(lines)
    # Every cell id is there whole, on a line of its own or at the start of its row.
    for row in rows:
        assert any(line.startswith(row[0]) for line in lines), row[0]
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert not any(line.lstrip().startswith("::") for line in lines)


@pytest.mark.parametrize("width", [60, 100, 200])
def test_hostile_values_are_cut_to_a_few_lines(width: int) -> None:
    lines = table(HEADER, HOSTILE, width)
    # The header and its rule, then per row its id and three values of MAX_LINES lines.
    assert len(lines) <= 2 + 2 * (1 + 3 * MAX_LINES)
    assert any(line.endswith("…") for line in lines)


def test_the_key_column_is_never_cut_even_when_it_alone_is_too_wide() -> None:
    key = "k" * 90
    lines = table(["CELL", "NOTE"], [[key, "a note"]], 60)
    assert key in lines
    assert "  NOTE  a note" in lines


def test_rows_stack_when_columns_would_be_too_narrow() -> None:
    lines = table(HEADER, ROWS, 60)
    assert lines[:3] == ["CELL", "----", ID]
    assert lines[3] == "  RELEASE            FlagRelease/DeepSeek-R1-Distill-Qwen-"
    assert lines[4] == "                     7B-GGUF-Q4_K_M-nvidia-FlagOS"
    # An empty value is left out of its row's block.
    tiny = lines.index("tiny-llama.cpu.bf16.transformers")
    assert not any("IGNORED" in line for line in lines[tiny:])


def test_a_wide_enough_table_wraps_its_widest_column() -> None:
    lines = table(HEADER, ROWS, 160)
    assert widest(lines) <= 160
    assert lines[0].startswith("CELL")
    assert lines[2].startswith(ID)
    # The engine arguments wrapped onto a second line, the other columns blank there.
    assert lines[3].startswith(" " * len(ID))
    assert "…" not in "\n".join(lines)


def test_wide_characters_count_twice() -> None:
    lines = table(["A", "B"], [["模型", "x"], ["ab", "y"]], 80)
    assert lines == ["A     B", "----  -", "模型  x", "ab    y"]


def test_wrap_breaks_after_commas_and_cuts_what_is_left() -> None:
    text = "dtype=bfloat16, gpu_memory_utilization=0.9, max_model_len=32768, quantization=fp8"
    assert wrap(text, 30) == [
        "dtype=bfloat16,",
        "gpu_memory_utilization=0.9,",
        "max_model_len=32768, quantiza…",
    ]
    assert wrap("short", 30) == ["short"]
    assert wrap("x" * 100, 10, max_lines=2) == ["x" * 10, "x" * 9 + "…"]


def test_a_note_wraps_and_is_never_cut() -> None:
    note = "(run with --explain to see the excluded cells and why) " * 3
    lines = paragraph(note.strip(), 40)
    assert widest(lines) <= 40
    assert " ".join(lines) == note.strip()
    assert paragraph(note, None) == [note]
