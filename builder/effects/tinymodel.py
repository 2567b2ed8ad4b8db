"""Make a tiny Llama with a locally trained tokenizer, offline and deterministically.

The model exists so that the whole pipeline (download, serve, suites, gates, emit) can run on
a CPU without the network. It starts random and is then taught the hundred single-digit sums
("3+4=7") for a few seconds, so the bundled arithmetic tasks (tasks/tiny_arith*) score near
100% on a healthy engine and visibly less on a broken one: the gates have something to
measure. It knows nothing else. Same seed, same library versions, same machine: the same bytes
in every file, so the directory can be cached and its hashes compared across runs.

torch, transformers and sentencepiece are imported inside the functions: importing this
module must stay cheap for the commands that never make a model.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

from builder.effects.fs import swap_in

# Llama's layout at toy scale: two heads of 64 keep head_dim at the usual size, so attention
# kernels and engines that only support common head sizes still take the model.
HIDDEN_SIZE = 128
INTERMEDIATE_SIZE = 256
NUM_LAYERS = 2
NUM_HEADS = 2
MAX_POSITIONS = 2048
VOCAB_SIZE = 1000  # includes the 256 byte-fallback pieces and the special tokens
# Enough full-batch steps to memorise the hundred sums (loss < 0.01 by step 200 at this rate).
TEACH_STEPS = 250
TEACH_LR = 2e-3

UNK, BOS, EOS, PAD = "<unk>", "<s>", "</s>", "<pad>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"

# ChatML. Content may arrive as a string or as OpenAI-style parts ({"type": "text", ...}),
# depending on the client and on how the server normalises messages; both render the same.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- elif message['content'] is not none -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

# The tokenizer's training text: enough English and Chinese for ~740 merges on top of the
# byte pieces. Written here, not downloaded, so generation works offline and never changes.
CORPUS_EN = """\
The quick brown fox jumps over the lazy dog while the farmer watches from the gate.
A language model predicts the next token from the tokens that came before it.
Large language models are trained on a great deal of text and then tuned to follow instructions.
This small model was made for testing. Its weights are random, so its answers mean nothing.
Engineers build software in small steps: they write a test, make it pass, and clean the code.
Every release is built from a recipe that names the model, the chips and the serving engines.
The server listens on a local port and answers requests for chat completions and completions.
When the health check passes, the suite sends a short prompt and reads the reply.
Hello! How are you today? I am fine, thank you. What would you like to talk about?
Please tell me a short story about a cat who lives in a library and reads books at night.
Once upon a time there was a little cat named Mia. She loved the quiet rooms full of books.
Every night, when the lights went out, Mia walked along the shelves and read the old stories.
The weather today is sunny with a light wind from the west, and tomorrow it may rain.
Water boils at one hundred degrees Celsius at sea level and freezes at zero degrees.
The sun is a star, and the earth moves around it once every year in a nearly round orbit.
Mathematics is the study of numbers, shapes and patterns; two plus two is four.
Computers store numbers in binary, using only the digits zero and one.
A function takes some input, does some work, and returns a result to the caller.
Good documentation explains why the code does what it does, not only what it does.
The train leaves the station at nine in the morning and arrives in the city before noon.
She opened the window, looked at the garden, and smiled at the flowers in the spring light.
They decided to walk to the river, where children were playing and old men were fishing.
History teaches us that people have always traded goods, ideas and songs across borders.
Music, art and literature help people share their feelings and understand each other.
If you want to learn something new, practice a little every day and be patient with yourself.
The doctor said that sleep, water, fresh food and exercise are the keys to good health.
In the kitchen, he cut the vegetables, boiled the rice and made a simple soup for dinner.
The meeting will start at three o'clock; please bring your notes and your questions.
Open source projects welcome contributions: report bugs, improve the docs, or send a patch.
Security matters: never trust input from the network, and check every value at the edge.
A cache keeps the results of slow work so that the next request can be answered quickly.
The user asked the assistant to summarize the article in three short sentences.
The assistant answered politely and said that it did not know the answer to the question.
Numbers like 1, 2, 3, 10, 42, 100 and 2024 appear in dates, prices and measurements.
What is the capital of France? The capital of France is Paris, a city on the river Seine.
What is the largest ocean on earth? The Pacific Ocean is the largest and the deepest.
Thank you for your help. You are welcome; let me know if there is anything else I can do.
Chips from many vendors run the same model when the engine and the drivers support them.
Testing on a small model is fast and cheap, and it catches most mistakes before release.
"""

CORPUS_ZH = """\
你好！今天天气很好，我们一起去公园散步吧。
人工智能是计算机科学的一个分支，研究如何让机器像人一样思考和学习。
大语言模型通过学习大量文本来预测下一个词，然后根据指令回答问题。
这个小模型只是用来测试的，它的权重是随机的，所以它的回答没有意义。
请给我讲一个关于小猫的故事。从前有一只小猫，它住在图书馆里，每天晚上都读书。
中国有很多美丽的城市，比如北京、上海、杭州和成都，每个城市都有自己的特色。
学习一门新的语言需要时间和耐心，每天练习一点点，就会慢慢进步。
谢谢你的帮助！不客气，如果还有其他问题，请随时告诉我。
春天来了，花开了，鸟儿在树上唱歌，孩子们在草地上玩耍。
工程师写代码的时候，先写测试，再让测试通过，最后把代码整理干净。
服务器在本地端口上监听请求，健康检查通过以后，测试程序发送一个简短的问题。
水在一百度的时候沸腾，在零度的时候结冰。太阳是一颗恒星，地球绕着太阳转。
"""


def generate_tiny_llama(dest: Path, *, seed: int = 0) -> None:
    """Write a loadable Hugging Face Llama directory at ``dest``, built only from ``seed``.

    The directory is assembled in a temporary sibling and renamed into place, so ``dest``
    either does not exist or is complete. An existing ``dest`` is replaced.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    from transformers.utils import logging as hf_logging

    # The builder's log shows one line per cell; saving a 2 MB model needs no progress bar.
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        sp_model = _train_sentencepiece(seed)
        tokenizer = _hf_tokenizer(sp_model)
        model = _random_llama(tokenizer, seed)
        _teach_sums(model, tokenizer, seed)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        # The SentencePiece model too: converters that read tokenizer.model (llama.cpp's
        # GGUF conversion) then see the same vocabulary as tokenizer.json.
        (tmp / "tokenizer.model").write_bytes(sp_model)
        _make_readable(tmp)
        swap_in(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _train_sentencepiece(seed: int) -> bytes:
    """A byte-fallback BPE SentencePiece model, trained on the inline corpus, as bytes."""
    import sentencepiece as spm

    spm.set_random_generator_seed(seed)
    sentences = [line for line in (CORPUS_EN + CORPUS_ZH).splitlines() if line.strip()]
    buffer = io.BytesIO()
    # A sentence iterator and an in-memory writer keep temporary paths out of the model's
    # stored trainer spec, which would otherwise differ between runs.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        model_type="bpe",
        vocab_size=VOCAB_SIZE,
        character_coverage=1.0,  # keep every Chinese character as its own piece
        byte_fallback=True,  # anything else still tokenizes, as UTF-8 bytes
        split_digits=True,
        # Identity normalisation and kept whitespace match what the tokenizers-based
        # LlamaTokenizer does, so SentencePiece and tokenizer.json agree on every text.
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=3,
        unk_piece=UNK,
        bos_piece=BOS,
        eos_piece=EOS,
        pad_piece=PAD,
        control_symbols=[IM_START, IM_END],
        num_threads=1,  # a single thread makes the merge order reproducible
        minloglevel=2,  # its progress log is noise on stderr
    )
    return buffer.getvalue()


def _hf_tokenizer(sp_model: bytes) -> Any:
    """The same vocabulary as a tokenizers-backed LlamaTokenizer with a chat template.

    transformers would convert a tokenizer.model itself, but only with protobuf installed;
    reading the pieces through sentencepiece avoids that dependency.
    """
    import sentencepiece as spm
    from tokenizers import AddedToken
    from transformers import LlamaTokenizer

    processor = spm.SentencePieceProcessor(model_proto=sp_model)
    vocab = {processor.id_to_piece(i): i for i in range(processor.get_piece_size())}
    tokenizer = LlamaTokenizer(
        vocab=vocab,
        merges=_bpe_merges(processor),
        unk_token=UNK,
        bos_token=BOS,
        eos_token=IM_END,  # a chat turn ends here, so generation should too
        pad_token=PAD,
        add_bos_token=True,
        add_eos_token=False,
        legacy=False,
        add_prefix_space=True,
        model_max_length=MAX_POSITIONS,
        chat_template=CHAT_TEMPLATE,
    )
    specials = [AddedToken(t, special=True, normalized=False) for t in (EOS, IM_START, IM_END)]
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    # Every special token must reuse its SentencePiece id: a new id would grow the vocabulary
    # past the embedding table.
    if len(tokenizer) != processor.get_piece_size():
        msg = f"tokenizer has {len(tokenizer)} tokens, SentencePiece {processor.get_piece_size()}"
        raise RuntimeError(msg)
    return tokenizer


def _bpe_merges(processor: Any) -> list[tuple[str, str]]:
    """The merges that rebuild every normal piece, in SentencePiece's merge order.

    A BPE piece's id is its merge rank, so a piece made of two known pieces is one merge.
    """
    pieces = {
        processor.id_to_piece(i): i
        for i in range(processor.get_piece_size())
        if not (processor.is_control(i) or processor.is_unknown(i) or processor.is_byte(i))
    }
    ranked: list[tuple[int, int, int, str, str]] = []
    for piece, rank in pieces.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in pieces and right in pieces:
                ranked.append((rank, pieces[left], pieces[right], left, right))
    return [(left, right) for *_, left, right in sorted(ranked)]


def _random_llama(tokenizer: Any, seed: int) -> Any:
    """A randomly initialised LlamaForCausalLM sized to the tokenizer."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    ids = tokenizer.convert_tokens_to_ids
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=ids(BOS),
        eos_token_id=ids(IM_END),
        pad_token_id=ids(PAD),
        tie_word_embeddings=False,
        dtype="float32",
    )
    # fork_rng: seeding must not disturb the caller's random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig.from_dict(
        {
            "bos_token_id": ids(BOS),
            "eos_token_id": [ids(IM_END), ids(EOS)],
            "pad_token_id": ids(PAD),
            # Greedy by default, so that smoke replies are reproducible. (`transformers serve`
            # keeps this even when a request sends a temperature above 0.)
            "do_sample": False,
        }
    )
    return model


def sum_facts() -> list[tuple[str, str]]:
    """The facts the model is taught: every ``a+b=`` prompt with its answer, a and b in 0-9."""
    return [(f"{a}+{b}=", str(a + b)) for a in range(10) for b in range(10)]


def _teach_sums(model: Any, tokenizer: Any, seed: int) -> None:
    """Train on :func:`sum_facts` until the model answers them all (about 250 AdamW steps).

    One thread: a multi-threaded reduction may add in another order and change the bytes.
    """
    import torch

    end = tokenizer.convert_tokens_to_ids(IM_END)
    rows = []
    for prompt, answer in sum_facts():
        prompt_ids = tokenizer(prompt)["input_ids"]
        full = tokenizer(prompt + answer)["input_ids"] + [end]
        rows.append((len(prompt_ids), full))
    width = max(len(full) for _, full in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100)  # -100: no loss on the prompt or padding
    for row, (prompt_len, full) in enumerate(rows):
        ids[row, : len(full)] = torch.tensor(full)
        mask[row, : len(full)] = 1
        labels[row, prompt_len : len(full)] = torch.tensor(full[prompt_len:])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            optimizer = torch.optim.AdamW(model.parameters(), lr=TEACH_LR, weight_decay=0.0)
            model.train()
            for _ in range(TEACH_STEPS):
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            model.eval()
    finally:
        torch.set_num_threads(threads)


def _make_readable(directory: Path) -> None:
    """World-readable modes: mkdtemp makes the directory 0700 and safetensors writes its file
    0600, which a container running as another user could not read."""
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)


# The tiny LoRA: rank 4 on the attention projections, with small seeded B matrices so that
# merging it changes the weights measurably (peft starts B at zero: a no-op adapter).
LORA_RANK = 4
LORA_ALPHA = 8
LORA_TARGETS = ("q_proj", "v_proj")
LORA_B_STD = 0.02


def generate_tiny_lora(dest: Path, base_dir: Path, *, seed: int = 0) -> None:
    """Write a peft LoRA adapter for the tiny Llama at ``base_dir`` (safetensors only)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        base = AutoModelForCausalLM.from_pretrained(base_dir)
        config = LoraConfig(r=LORA_RANK, lora_alpha=LORA_ALPHA, target_modules=list(LORA_TARGETS))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = get_peft_model(base, config)
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    torch.nn.init.normal_(param, std=LORA_B_STD)
        model.save_pretrained(str(tmp), safe_serialization=True)
        _make_readable(tmp)
        swap_in(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
