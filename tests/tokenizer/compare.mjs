// compare.mjs - vkbert's tokenizer against Hugging Face's, id for id.
//
//   node compare.mjs --tokdump BIN (--vocab vocab.txt | --synthetic)
//                    [--imdb train.jsonl.gz] [--hard hard_strings.jsonl]
//
// Builds the tokenizer.json that transformers makes for an uncased
// BertTokenizerFast from a vocab.txt (BertNormalizer, BertPreTokenizer,
// WordPiece, [CLS] $A [SEP] template, truncation at 512) and encodes every
// text with two independent references:
//   - @huggingface/tokenizers (pure JavaScript; required), and
//   - tokenizers, HF's Rust library through its Node binding (the code behind
//     BertTokenizerFast itself; used when installed).
// vkbert's ids come from tokdump, fed the texts as JSON lines, once with the
// vocab.txt and once with the generated tokenizer.json in a model directory.
// Required: zero mismatches.  A hard string may carry "js_differs": the JS
// port has a known divergence from the Rust library there, so that string is
// held to the Rust reference only.  --synthetic makes a small vocab from the
// hard strings at run time (no ../shared needed) and also checks short
// max_len values.  Exit 77 (skip) when node_modules or the data is missing.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";

const SKIP = 77;
const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === "--synthetic") args.synthetic = true;
  else args[a.replace(/^--/, "")] = process.argv[++i];
}
if (!args.tokdump || (!args.vocab && !args.synthetic)) {
  console.error("usage: compare.mjs --tokdump BIN (--vocab FILE | --synthetic) [--imdb GZ] [--hard JSONL]");
  process.exit(2);
}

let JsTokenizer, RustTokenizer = null;
try {
  ({ Tokenizer: JsTokenizer } = await import("@huggingface/tokenizers"));
} catch {
  console.log("@huggingface/tokenizers not installed (run: npm ci --prefix tests/tokenizer): skipping");
  process.exit(SKIP);
}
try {
  RustTokenizer = createRequire(import.meta.url)("tokenizers").Tokenizer;
} catch (e) {
  console.log(`note: tokenizers (Rust binding) unavailable (${e.message.split("\n")[0]}); JS reference only`);
}
for (const f of [args.vocab, args.imdb].filter(Boolean)) {
  if (!fs.existsSync(f)) {
    console.log(`${f} not found: skipping`);
    process.exit(SKIP);
  }
}

const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

// ---- inputs -----------------------------------------------------------------
const sets = []; // {name, items: [{text, js_differs?}]}
if (args.hard) {
  const items = fs.readFileSync(args.hard, "utf8").split("\n").filter((l) => l.length).map((l, i) => {
    try { return JSON.parse(l); } catch (e) { throw new Error(`${args.hard}:${i + 1}: ${e.message}`); }
  });
  sets.push({ name: "hard strings", items });
}
if (args.imdb) {
  const lines = zlib.gunzipSync(fs.readFileSync(args.imdb)).toString("utf8").split("\n").filter((l) => l.length);
  sets.push({ name: "IMDB train", items: lines.map((l) => ({ text: JSON.parse(l).text })) });
}

// ---- vocabulary ---------------------------------------------------------------
function syntheticVocab(texts) {
  // Specials, then pieces of the hard strings' normalized words (first half
  // as a word start, the rest as a ## continuation), then single chars as
  // both; every 5th distinct char is left out so that [UNK] appears too.
  const seen = new Set(SPECIALS);
  const vocab = [...SPECIALS];
  // Tokens never hold what cleaning removes or splits on (and vocab.txt
  // cannot hold a newline).
  const add = (t) => { if (t && !/[\p{C}\s\uFFFD]/u.test(t) && !seen.has(t)) { seen.add(t); vocab.push(t); } };
  const norm = (s) => s.normalize("NFD").replace(/\p{Mn}/gu, "").toLowerCase();
  const chars = new Set();
  for (const t of texts) {
    for (const w of norm(t).split(/[\s\p{P}!-/:-@[-`{-~]+/u)) {
      const cs = [...w];
      if (cs.length >= 2 && cs.length <= 24) {
        const h = Math.ceil(cs.length / 2);
        add(cs.slice(0, h).join(""));
        add("##" + cs.slice(h).join(""));
      }
      cs.forEach((c) => chars.add(c));
    }
    for (const c of t) chars.add(c);
  }
  [...chars].sort().forEach((c, i) => { if (i % 5 !== 4) { add(c); add("##" + c); } });
  for (const c of "abcdefghijklmnopqrstuvwxyz0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") add(c);
  add("un"); add("##believ"); add("##ably"); add("word"); add("end");
  return vocab;
}

let vocabList, vocabFile, tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vkb-tok-"));
if (args.synthetic) {
  vocabList = syntheticVocab(sets.flatMap((s) => s.items.map((x) => x.text)));
  vocabFile = path.join(tmp, "vocab.txt");
  fs.writeFileSync(vocabFile, vocabList.join("\n") + "\n");
} else {
  vocabFile = args.vocab;
  vocabList = fs.readFileSync(vocabFile, "utf8").split("\n");
  if (vocabList[vocabList.length - 1] === "") vocabList.pop();
  vocabList = vocabList.map((t) => t.replace(/\r$/, ""));
}
const vocab = {};
vocabList.forEach((t, i) => { vocab[t] = i; });
const SEP = vocab["[SEP]"];

function tokenizerJson(maxLen) {
  return {
    version: "1.0",
    truncation: maxLen ? { direction: "Right", max_length: maxLen, strategy: "LongestFirst", stride: 0 } : null,
    padding: null,
    added_tokens: SPECIALS.filter((s) => s in vocab).map((s) => ({
      id: vocab[s], content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
      pair: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } },
             { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } }],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [SEP], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  };
}

// A model directory holding only tokenizer.json (+ config): tests vkbert's
// tokenizer.json loader on the same texts.
const jsonDir = path.join(tmp, "json-model");
fs.mkdirSync(jsonDir);
fs.writeFileSync(path.join(jsonDir, "tokenizer.json"), JSON.stringify(tokenizerJson(512)));
fs.writeFileSync(path.join(jsonDir, "tokenizer_config.json"),
  JSON.stringify({ do_lower_case: true, model_max_length: 1000000000000000019884624838656 }));

const jsTok = new JsTokenizer(tokenizerJson(null), { do_lower_case: true, model_max_length: 512 });
const rustToks = new Map();
function rustTok(maxLen) {
  if (!rustToks.has(maxLen)) rustToks.set(maxLen, RustTokenizer.fromString(JSON.stringify(tokenizerJson(maxLen))));
  return rustToks.get(maxLen);
}

// The JS port has no truncation: cut like HF does (content to maxLen-2, then
// [SEP] after it).
function jsIds(text, maxLen) {
  const ids = jsTok.encode(text).ids;
  return ids.length > maxLen ? [...ids.slice(0, maxLen - 1), SEP] : ids;
}
async function rustIds(texts, maxLen) {
  const out = [];
  for (let i = 0; i < texts.length; i += 1000) {
    const encs = await rustTok(maxLen).encodeBatch(texts.slice(i, i + 1000));
    for (const e of encs) out.push(Array.from(e.getIds()));
  }
  return out;
}
function tokdump(texts, how, maxLen) {
  const input = texts.map((t) => JSON.stringify({ text: t })).join("\n") + "\n";
  const r = spawnSync(args.tokdump, [...how, "--max-len", String(maxLen)],
    { input, maxBuffer: 1 << 30, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tokdump ${how.join(" ")} failed (${r.status}): ${r.stderr}`);
  const lines = r.stdout.split("\n");
  lines.pop();
  if (lines.length !== texts.length) throw new Error(`tokdump gave ${lines.length} lines for ${texts.length} texts`);
  return lines.map((l) => JSON.parse(l));
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
function show(ids) {
  return ids.map((i) => vocabList[i] ?? `#${i}`).join(" ");
}
function report(label, items, i, want, got) {
  const t = JSON.stringify(items[i].text);
  let k = 0;
  while (k < want.length && want[k] === got[k]) k++;
  console.log(`MISMATCH ${label} #${i}: ${t.length > 300 ? t.slice(0, 300) + "...\"" : t}`);
  console.log(`  first difference at id ${k}`);
  console.log(`  reference: ${show(want.slice(Math.max(0, k - 3), k + 8))}`);
  console.log(`  vkbert:    ${show(got.slice(Math.max(0, k - 3), k + 8))}`);
}

let failures = 0, compared = 0;
const maxLens = args.synthetic ? [512, 2, 3, 5, 16] : [512];
for (const set of sets) {
  const texts = set.items.map((x) => x.text);
  for (const maxLen of maxLens) {
    const hows = [["--vocab", vocabFile]];
    if (maxLen === 512) hows.push(["--model", jsonDir]);
    const mine = hows.map((h) => tokdump(texts, h, maxLen));
    const t0 = Date.now();
    const js = texts.map((t) => jsIds(t, maxLen));
    const tJs = Date.now() - t0;
    const rust = RustTokenizer ? await rustIds(texts, maxLen) : null;
    let bad = { js: 0, rust: 0 }, jsKnown = 0, staleFlags = 0, shown = 0;
    for (let i = 0; i < texts.length; i++) {
      const flagged = !!set.items[i].js_differs;
      if (flagged && js && same(js[i], mine[0][i]) && (!rust || same(rust[i], js[i]))) staleFlags++;
      for (let h = 0; h < mine.length; h++) {
        const got = mine[h][i];
        const label = `${set.name} (${hows[h][0]}, max_len ${maxLen})`;
        if (!flagged && !same(js[i], got)) {
          bad.js++;
          if (shown++ < 5) report(label + " vs @huggingface/tokenizers", set.items, i, js[i], got);
        }
        if (flagged && !same(js[i], got)) jsKnown++;
        if (rust && !same(rust[i], got)) {
          bad.rust++;
          if (shown++ < 5) report(label + " vs tokenizers (Rust)", set.items, i, rust[i], got);
        }
      }
    }
    compared += texts.length;
    failures += bad.js + bad.rust;
    console.log(`${set.name}, max_len ${maxLen}: ${texts.length} texts x ${mine.length} loaders; ` +
      `mismatches vs @huggingface/tokenizers ${bad.js}` +
      (jsKnown ? ` (+${jsKnown} at strings marked js_differs)` : "") +
      `, vs tokenizers (Rust) ${rust ? bad.rust : "n/a"}; JS took ${tJs} ms`);
    if (staleFlags && !args.synthetic) console.log(`  note: ${staleFlags} js_differs strings agree with JS anyway`);
  }
}
fs.rmSync(tmp, { recursive: true, force: true });
console.log(failures ? `FAILED: ${failures} mismatches` : `OK: ${compared} encodings identical`);
process.exit(failures ? 1 : 0);
