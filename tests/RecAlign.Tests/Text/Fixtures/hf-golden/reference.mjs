import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";
const texts = JSON.parse(fs.readFileSync("texts.json", "utf8"));
const out = {};
for (const name of ["gpt2", "smollm", "qwen2", "llama3"]) {
  const tj = JSON.parse(fs.readFileSync(`${name}/tokenizer.json`, "utf8"));
  const tc = JSON.parse(fs.readFileSync(`${name}/tokenizer_config.json`, "utf8"));
  const tok = new Tokenizer(tj, tc);
  out[name] = texts.map(t => tok.encode(t).ids ?? tok.encode(t));
}
fs.writeFileSync("expected_ids.json", JSON.stringify(out));
console.log(Object.keys(out).map(k => k + ":" + out[k].length).join(" "), JSON.stringify(out.gpt2[0]));
