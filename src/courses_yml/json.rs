//! YAML values as the legacy bot writes them as JSON (Python's `json.dumps(element,
//! ensure_ascii=False)`), and mapping keys as it names them.

use yaml_rust2::Yaml;

use super::is_secret_key;

/// A mapping key as the legacy bot names it (Python's `str()` of the YAML value).
pub(super) fn key_text(k: &Yaml) -> Option<String> {
    match k {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(if *b { "True" } else { "False" }.to_string()),
        Yaml::Null => Some("None".to_string()),
        _ => None,
    }
}

/// A float as Python's `repr` writes it.
fn python_float(s: &str) -> String {
    let t = s.trim().trim_start_matches('+').to_ascii_lowercase();
    match t.as_str() {
        ".inf" => return "Infinity".into(),
        "-.inf" => return "-Infinity".into(),
        ".nan" => return "NaN".into(),
        _ => {}
    }
    let Ok(f) = t.replace('_', "").parse::<f64>() else {
        return serde_json::to_string(s).unwrap_or_default();
    };
    let exp = if f == 0.0 { 0 } else { f.abs().log10().floor() as i32 };
    if f != 0.0 && !(-4..16).contains(&exp) {
        // 1e+16, 1.5e-05
        let sci = format!("{f:e}");
        let (m, e) = sci.split_once('e').unwrap_or((&sci, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        format!("{f:?}")
    }
}

/// A YAML value as JSON text, the way the legacy bot's `json.dumps(…, ensure_ascii=False)`
/// writes it: mappings in file order, `", "` and `": "` separators.
pub fn to_json_text(y: &Yaml) -> String {
    match y {
        Yaml::Hash(h) => {
            let items: Vec<String> = h
                .iter()
                .map(|(k, v)| {
                    let key = key_text(k).unwrap_or_else(|| to_json_text(k));
                    format!("{}: {}", serde_json::to_string(&key).unwrap_or_default(), to_json_text(v))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Yaml::Array(a) => format!("[{}]", a.iter().map(to_json_text).collect::<Vec<_>>().join(", ")),
        Yaml::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Real(r) => python_float(r),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => "null".into(),
    }
}

/// A YAML value as a JSON value (for settings), secrets left out.
pub(super) fn to_json_value(y: &Yaml) -> serde_json::Value {
    use serde_json::Value;
    match y {
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .filter_map(|(k, v)| key_text(k).map(|k| (k, v)))
                .filter(|(k, _)| !is_secret_key(k))
                .map(|(k, v)| (k, to_json_value(v)))
                .collect(),
        ),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json_value).collect()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => r.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).unwrap_or(Value::String(r.clone())),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    }
}

/// How deeply lists and mappings nest (counted without recursion).
pub(super) fn depth(y: &Yaml) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(y, 1usize)];
    while let Some((node, d)) = stack.pop() {
        deepest = deepest.max(d);
        match node {
            Yaml::Hash(h) => stack.extend(h.iter().flat_map(|(k, v)| [(k, d + 1), (v, d + 1)])),
            Yaml::Array(a) => stack.extend(a.iter().map(|v| (v, d + 1))),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use yaml_rust2::YamlLoader;

    use super::*;

    fn json_of(yaml: &str) -> String {
        to_json_text(&YamlLoader::load_from_str(yaml).unwrap()[0])
    }

    #[test]
    fn json_is_written_as_the_legacy_bot_writes_it() {
        assert_eq!(json_of("type: message\ntext: \"Привет, «мир» \\\"q\\\"\"\nz: 1\na: [1, 2.5, true, null]"),
                   r#"{"type": "message", "text": "Привет, «мир» \"q\"", "z": 1, "a": [1, 2.5, true, null]}"#);
        assert_eq!(json_of("a: 1.0\nb: 1e20\nc: 0.00001\nd: 100.0"), r#"{"a": 1.0, "b": 1e+20, "c": 1e-05, "d": 100.0}"#);
        assert_eq!(json_of("1: x\ntrue: y"), r#"{"1": "x", "True": "y"}"#);
        assert_eq!(json_of("t: \"tab\\there\\nnl\\u0001\""), r#"{"t": "tab\there\nnl\u0001"}"#);
    }

}
