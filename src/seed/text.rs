//! Texts of the dataset: lesson texts, user answers, JSON documents and YAML,
//! built from word lists so that sizes and alphabets look like production.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Ru,
    En,
}

const RU_WORDS: &[&str] = &[
    "урок", "задание", "ответ", "пример", "курс", "тема", "вопрос", "давайте", "разберём", "сегодня",
    "важно", "помните", "практика", "результат", "следующий", "шаг", "модуль", "отлично", "попробуйте",
    "ещё", "раз", "верно", "код", "функция", "переменная", "цикл", "клиент", "продажи", "воронка",
    "аудитория", "маркетинг", "слово", "фраза", "произношение", "дыхание", "день", "и", "в", "на", "с",
    "это", "как", "что", "для", "мы", "вы", "когда", "почему", "потому", "лучше", "просто", "очень",
];

const EN_WORDS: &[&str] = &[
    "lesson", "task", "answer", "example", "course", "topic", "question", "let's", "review", "today",
    "remember", "practice", "result", "next", "step", "module", "great", "try", "again", "correct",
    "code", "function", "variable", "loop", "client", "sales", "funnel", "audience", "word", "phrase",
    "pronunciation", "breathing", "day", "the", "a", "is", "and", "with", "for", "you", "we", "it",
    "this", "that", "when", "why", "because", "better", "simply", "very", "query", "join", "window",
];

/// Punctuation and the odd character that production texts carry: quotes, dashes,
/// line breaks, an emoji, a Windows path with backslashes.
const MARKS: &[&str] = &[
    ", ", ". ", "! ", "? ", " — ", "\n", " «", "» ", " \"", "\" ", " 🙂 ", " (", ") ", ": ", " C:\\Users\\student ",
    " O'Neil ", "\n\n", " 100% ",
];

fn words(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Ru => RU_WORDS,
        Lang::En => EN_WORDS,
    }
}

/// Appends words (and now and then a mark) until `out` has grown by `bytes`.
pub(crate) fn prose(rng: &mut ChaCha8Rng, out: &mut String, lang: Lang, bytes: usize) {
    let goal = out.len() + bytes;
    let list = words(lang);
    let mut first = true;
    while out.len() < goal {
        if !first {
            if rng.gen_ratio(1, 7) {
                out.push_str(MARKS[rng.gen_range(0..MARKS.len())]);
            } else {
                out.push(' ');
            }
        }
        first = false;
        out.push_str(list[rng.gen_range(0..list.len())]);
    }
}

/// A short text of `min..=max` bytes.
pub(crate) fn phrase(rng: &mut ChaCha8Rng, lang: Lang, min: usize, max: usize) -> String {
    let mut s = String::with_capacity(max + 16);
    let n = rng.gen_range(min..=max);
    prose(rng, &mut s, lang, n);
    s
}

/// Appends `value` as a JSON string literal.
pub(crate) fn json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON document of at least `bytes` bytes: a dialog element that stored the whole
/// model conversation, the kind of row that makes production tables heavy.
pub(crate) fn large_dialog_json(rng: &mut ChaCha8Rng, out: &mut String, bytes: usize) {
    let goal = out.len() + bytes;
    out.push_str("{\"type\":\"dialog\",\"model\":\"gpt-4o-mini\",\"history\":[");
    let mut first = true;
    let mut text = String::with_capacity(1200);
    while out.len() < goal {
        if !first {
            out.push(',');
        }
        first = false;
        let role = if rng.gen_bool(0.5) { "user" } else { "assistant" };
        text.clear();
        let lang = if rng.gen_bool(0.7) { Lang::Ru } else { Lang::En };
        let n = rng.gen_range(200..1000);
        prose(rng, &mut text, lang, n);
        out.push_str("{\"role\":\"");
        out.push_str(role);
        out.push_str("\",\"content\":");
        json_string(out, &text);
        out.push('}');
    }
    out.push_str("]}");
}

/// Quotes a YAML scalar (double-quoted style, which accepts JSON escapes).
pub(crate) fn yaml_string(out: &mut String, value: &str) {
    json_string(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn json_strings_parse_back() {
        for s in ["plain", "with \"quotes\" and \\ and\nnew\tlines\r", "юникод 🙂", "\u{1}\u{1f}"] {
            let mut out = String::new();
            json_string(&mut out, s);
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn large_json_is_valid_and_large() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut out = String::new();
        large_dialog_json(&mut rng, &mut out, 100_000);
        assert!(out.len() >= 100_000);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["history"].as_array().unwrap().len() > 50);
    }

    #[test]
    fn prose_reaches_its_size() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = phrase(&mut rng, Lang::Ru, 100, 120);
        assert!(s.len() >= 100 && s.len() < 200, "{}", s.len());
    }
}
