import json, re, collections, unicodedata
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~")+1))+list(range(0xA1, 0xAC+1))+list(range(0xAE, 0xFF+1))
    cs = bs[:]; n = 0
    for b in range(256):
        if b not in bs: bs.append(b); cs.append(256+n); n += 1
    return dict(zip(bs, [chr(c) for c in cs]))
B2U = bytes_to_unicode()
# A corpus written for this fixture (no dataset content): invented titles, mixed scripts, numbers, contractions.
base = ["The Quiet Harbor (1998)", "Midnight Orchard", "Songs for the Long Road", "A Winter in Lisbon (2004)",
        "Café do Sol", "Ação e Reação", "Noites de Verão", "Für immer jung", "Über den Wolken", "Lumière d'été",
        "Ñandú Blues", "Íslenskar nætur", "Björn's Garden", "東京の夜", "夏の終わり", "서울의 봄", "Москва ночью",
        "Αθήνα 2004", "The user listened to these songs", "Recommend the next movie", "Next item:", "I'll be there",
        "it's 2024 and they're here", "don't stop", "YOU'RE the one", "Chapter 12: the 300 steps", "Track 07 - Intro",
        "rock & roll", "hip-hop / rap", "drum'n'bass", "lo-fi beats to relax to", "Symphony No. 9 in D minor",
        "the band played the theme then the encore", "a story of the sea and the shore"]
titles = [f"{a} {b}" for a in base for b in base[::5]]
corpus = " ".join(titles) + " the user listened to these songs and I'll say it's 2024 don't YOU'RE\n\n"
# pre-split on whitespace-ish words for training, GPT-2 style leading space
words = re.findall(r" ?[^\s]+|\s+", corpus)
freq = collections.Counter("".join(B2U[b] for b in w.encode("utf-8")) for w in words)
vocab = {B2U[b]: i for i, b in enumerate(range(256))}
splits = {w: list(w) for w in freq}
merges = []
for _ in range(600):
    pairs = collections.Counter()
    for w, f in freq.items():
        s = splits[w]
        for a, b in zip(s, s[1:]): pairs[(a, b)] += f
    if not pairs: break
    (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
    merges.append([a, b]); vocab.setdefault(a+b, len(vocab))
    for w in splits:
        s = splits[w]; i = 0; out = []
        while i < len(s):
            if i < len(s)-1 and s[i] == a and s[i+1] == b: out.append(a+b); i += 2
            else: out.append(s[i]); i += 1
        splits[w] = out
# a few unreachable vocab entries (only ignore_merges can produce them)
for extra in ["Ġquokka", "Ġxyz"]: vocab.setdefault(extra, len(vocab))
print(len(vocab), "vocab", len(merges), "merges")
QWEN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
LLAMA = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
bl = lambda use_regex: {"type":"ByteLevel","add_prefix_space":False,"trim_offsets":True,"use_regex":use_regex}
def make(name, pre, specials, config, normalizer=None, ignore=False, arr=True):
    nid = len(vocab)
    added = [{"id": nid+i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True} for i, s in enumerate(specials)]
    tj = {"version":"1.0","truncation":None,"padding":None,"added_tokens":added,"normalizer":normalizer,"pre_tokenizer":pre,
          "post_processor":None,"decoder":{"type":"ByteLevel","add_prefix_space":True,"trim_offsets":True,"use_regex":True},
          "model":{"type":"BPE","dropout":None,"unk_token":None,"continuing_subword_prefix":None,"end_of_word_suffix":None,"fuse_unk":False,
                   "byte_fallback":False,"ignore_merges":ignore,"vocab":vocab,"merges":merges if arr else [a+" "+b for a,b in merges]}}
    import os; os.makedirs(f"{name}", exist_ok=True)
    json.dump(tj, open(f"{name}/tokenizer.json","w"), ensure_ascii=False)
    json.dump(config, open(f"{name}/tokenizer_config.json","w"), ensure_ascii=False)
make("gpt2", bl(True), ["<|endoftext|>"], {"bos_token":"<|endoftext|>","eos_token":"<|endoftext|>"}, arr=False)
make("smollm", {"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":True}, bl(True)]}, ["<|endoftext|>","<|im_start|>","<|im_end|>"], {"bos_token":"<|im_start|>","eos_token":"<|im_end|>","pad_token":"<|im_end|>"})
make("qwen2", {"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":QWEN},"behavior":"Isolated","invert":False}, bl(False)]}, ["<|endoftext|>","<|im_start|>","<|im_end|>"], {"bos_token":None,"eos_token":"<|im_end|>","pad_token":"<|endoftext|>"}, normalizer={"type":"NFC"})
make("llama3", {"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":LLAMA},"behavior":"Isolated","invert":False}, bl(False)]}, ["<|begin_of_text|>","<|end_of_text|>","<|start_header_id|>","<|end_header_id|>","<|eot_id|>"], {"bos_token":"<|begin_of_text|>","eos_token":"<|eot_id|>"}, ignore=True)
texts = titles[::17] + ["Júpiter Maçã", "Sigur Rós", "東京事変", "emoji 🎸🥁 👩‍👩‍👧 family", "I'll say it's 1234567 don't\n\n  x  \r\nYOU'RE", " quokka xyz  the\tend ", "<|im_start|>user\nthe Beatles<|im_end|>\n<|im_start|>assistant\n", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "Ünïcödé ｆｕｌｌ width １２３", "a  b   c\n\n\nd"]
json.dump(texts, open("texts.json","w"), ensure_ascii=False)
print(len(texts), "texts")
