//! Courses that the legacy bot reads from YAML files, moved into the database.
//!
//! The legacy bot keeps courses in `scripts/<BOT_FOLDER>courses.yml`: a mapping of course
//! id to its settings — `path` (the course file, relative to the directory of courses.yml,
//! which is the bot's folder) or `path: db` (published to the database), `element`,
//! `restricted`, `decline_text`, `ban_enabled`, `ban_text`, … — and `ext_courses`, courses
//! of other files or bots that this bot also runs. A course file is a mapping of element id
//! to element (`type: message|quiz|…`).
//!
//! The migration makes a course row for each course id that rows name but no course row
//! holds, so that references resolve; the upstream application prefers a database row to
//! the file, so without its content it shows such a course empty. [`import`] writes the
//! content as the legacy bot's own publish would have: `course.yaml` the file's text, one
//! `course_element (bot_name, course_id, element_id, json, element_type)` per element in
//! file order, `json` the element as JSON the way the legacy bot writes it (Python's
//! `json.dumps(element, ensure_ascii=False)`: keys in file order, `", "` and `": "`
//! separators, non-ASCII text as it is), and `course.metadata` the courses.yml settings.
//! The legacy interface does not show the imported elements: the legacy bot keeps reading
//! those courses from its files.
//!
//! Keys that name secrets (`token`, `api_token`, `secret`, `password`, …) are never read
//! into settings, printed or stored.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio_postgres::GenericClient;
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};

/// The largest courses.yml or course file read (a course file is text, not media).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// One `--courses-yml [BOT=]FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoursesYmlArg {
    /// The bot whose courses.yml it is; None: the name of its folder (`scripts/<bot>/`),
    /// else the only bot, else the default bot of the migration.
    pub bot: Option<String>,
    pub file: PathBuf,
}

impl std::str::FromStr for CoursesYmlArg {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        // BOT=FILE, unless the part before '=' looks like a path (a file name may hold '=').
        match s.split_once('=') {
            Some((bot, file)) if !bot.is_empty() && !bot.contains('/') && !file.is_empty() => {
                Ok(CoursesYmlArg { bot: Some(bot.to_string()), file: PathBuf::from(file) })
            }
            _ if s.is_empty() => Err("expected FILE or BOT=FILE".into()),
            _ => Ok(CoursesYmlArg { bot: None, file: PathBuf::from(s) }),
        }
    }
}

/// An element of a course file, as the legacy bot publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Element {
    pub element_id: String,
    /// The element as JSON text, as the legacy bot writes it.
    pub json: String,
    /// The element's `type`.
    pub element_type: Option<String>,
}

/// Where a course's content lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `path: db`: published to the database already.
    Db,
    /// A course file, read.
    File { path: PathBuf, text: String, elements: Vec<Element> },
    /// An `ext_courses` entry without a path: the course of another courses.yml.
    Elsewhere,
}

/// One course of a courses.yml.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YamlCourse {
    pub course_id: String,
    pub source: Source,
    /// The courses.yml settings of the course (`element`, `restricted`, `decline_text`,
    /// `ban_enabled`, `ban_text`, …), without `path` and without secrets.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Listed under `ext_courses`.
    pub ext: bool,
}

/// A courses.yml, read with its course files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoursesYml {
    pub file: PathBuf,
    /// The bot given as `BOT=FILE`, if any.
    pub bot: Option<String>,
    pub courses: Vec<YamlCourse>,
}

impl CoursesYml {
    /// The name of the folder that holds courses.yml (`scripts/<BOT_FOLDER>`), if any.
    pub fn folder_name(&self) -> Option<String> {
        self.file
            .canonicalize()
            .unwrap_or_else(|_| self.file.clone())
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
    }
}

fn bad_file(path: &Path, what: impl std::fmt::Display, hint: &str) -> Error {
    Error::Usage { message: format!("{}: {what}", path.display()), hint: hint.to_string() }
}

fn read_text(path: &Path, what: &str) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| bad_file(path, format!("cannot read the {what} ({e})"), "Check the path."))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(bad_file(path, format!("the {what} has {} bytes, more than a course file can have", meta.len()), "Check the path."));
    }
    let bytes = std::fs::read(path).map_err(|e| bad_file(path, format!("cannot read the {what} ({e})"), "Check the path."))?;
    String::from_utf8(bytes).map_err(|e| {
        bad_file(path, format!("the {what} is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()), "Save it as UTF-8.")
    })
}

fn parse_yaml(path: &Path, text: &str, what: &str) -> Result<Yaml> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        bad_file(
            path,
            format!("line {}, column {}: {} (the {what} is not valid YAML)", e.marker().line(), e.marker().col() + 1, e.info()),
            "Fix the YAML at that place (the legacy bot could not read it either).",
        )
    })?;
    Ok(docs.into_iter().next().unwrap_or(Yaml::Null))
}

/// Whether a settings key names a secret: never read, printed or stored.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "secret", "password", "passwd", "api_key", "apikey", "private_key"].iter().any(|s| k.contains(s))
}

/// A mapping key as the legacy bot names it (Python's `str()` of the YAML value).
fn key_text(k: &Yaml) -> Option<String> {
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
fn to_json_value(y: &Yaml) -> serde_json::Value {
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
fn depth(y: &Yaml) -> usize {
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

/// Deeper than any course element nests.
const MAX_DEPTH: usize = 200;

/// Reads a course file: a mapping of element id to element.
pub fn read_course_file(path: &Path) -> Result<(String, Vec<Element>)> {
    let text = read_text(path, "course file")?;
    let doc = parse_yaml(path, &text, "course file")?;
    if depth(&doc) > MAX_DEPTH {
        return Err(bad_file(path, format!("lists and mappings nest more than {MAX_DEPTH} deep"), "Check the file: no course element nests so deep."));
    }
    let Yaml::Hash(h) = doc else {
        return Err(bad_file(
            path,
            "the course file is not a mapping of element id to element",
            "A course file maps each element id to its element (`type: message|quiz|…`).",
        ));
    };
    let mut elements = Vec::with_capacity(h.len());
    for (k, v) in &h {
        let Some(element_id) = key_text(k) else {
            return Err(bad_file(path, "an element id is a list or a mapping", "Element ids are names (text or numbers)."));
        };
        let element_type = match v {
            Yaml::Hash(e) => e.get(&Yaml::String("type".into())).and_then(key_text),
            _ => None,
        };
        elements.push(Element { element_id, json: to_json_text(v), element_type });
    }
    Ok((text, elements))
}

/// The course files of an entry are read relative to the folder of courses.yml (the
/// bot's folder, `scripts/<BOT_FOLDER>`); a path that does not exist there is tried
/// relative to the bot's working directory (the folder that holds `scripts/`).
fn resolve(base: &Path, rel: &str) -> PathBuf {
    let p = Path::new(rel);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let here = base.join(p);
    if here.exists() {
        return here;
    }
    let root = base.ancestors().find(|a| a.file_name().is_some_and(|n| n == "scripts")).and_then(|s| s.parent());
    match root {
        Some(r) if r.join(p).exists() => r.join(p),
        _ => here,
    }
}

fn course_entry(file: &Path, base: &Path, id: String, v: &Yaml, ext: bool) -> Result<YamlCourse> {
    let mut settings = serde_json::Map::new();
    let mut path = None;
    match v {
        Yaml::Hash(h) => {
            for (k, val) in h {
                let Some(k) = key_text(k) else { continue };
                if k == "path" {
                    path = key_text(val);
                } else if !is_secret_key(&k) {
                    settings.insert(k, to_json_value(val));
                }
            }
        }
        Yaml::Null => {}
        // `ext_courses` as a list names courses; a course mapped to text names its path.
        Yaml::String(s) if !ext => path = Some(s.clone()),
        Yaml::String(_) => {}
        _ => {
            return Err(bad_file(
                file,
                format!("course {}: its entry is neither a mapping nor a path", crate::sql::literal(&id)),
                "Each course maps to its settings: `path: FILE` (or `path: db`), `element`, `restricted`, ….",
            ))
        }
    }
    let source = match path.as_deref() {
        Some("db") => Source::Db,
        Some(rel) => {
            let p = resolve(base, rel);
            let (text, elements) = read_course_file(&p).map_err(|e| match e {
                Error::Usage { message, hint } => Error::Usage {
                    message: format!("course {} of {}: {message}", crate::sql::literal(&id), file.display()),
                    hint,
                },
                other => other,
            })?;
            Source::File { path: p, text, elements }
        }
        None if ext => Source::Elsewhere,
        None => {
            return Err(bad_file(
                file,
                format!("course {} has no path", crate::sql::literal(&id)),
                "Give it `path: FILE` (relative to the folder of courses.yml) or `path: db`.",
            ))
        }
    };
    Ok(YamlCourse { course_id: id, source, settings, ext })
}

/// Reads a courses.yml and every course file it names.
pub fn read(arg: &CoursesYmlArg) -> Result<CoursesYml> {
    let file = &arg.file;
    let text = read_text(file, "courses.yml")?;
    let doc = parse_yaml(file, &text, "courses.yml")?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    let Yaml::Hash(h) = doc else {
        return Err(bad_file(file, "courses.yml is not a mapping of course id to course", "Point --courses-yml at the bot's courses.yml."));
    };
    let mut courses = vec![];
    for (k, v) in &h {
        let Some(id) = key_text(k) else { continue };
        if id == "ext_courses" {
            match v {
                Yaml::Hash(ext) => {
                    for (ek, ev) in ext {
                        if let Some(eid) = key_text(ek) {
                            courses.push(course_entry(file, &base, eid, ev, true)?);
                        }
                    }
                }
                Yaml::Array(list) => {
                    for item in list {
                        match item {
                            Yaml::Hash(one) => {
                                for (ek, ev) in one {
                                    if let Some(eid) = key_text(ek) {
                                        courses.push(course_entry(file, &base, eid, ev, true)?);
                                    }
                                }
                            }
                            other => {
                                if let Some(eid) = key_text(other) {
                                    courses.push(course_entry(file, &base, eid, &Yaml::Null, true)?);
                                }
                            }
                        }
                    }
                }
                Yaml::Null => {}
                _ => return Err(bad_file(file, "ext_courses is neither a list nor a mapping", "List the course ids, or map them to their settings.")),
            }
            continue;
        }
        // Settings of the bot itself (a token, a folder name) are no courses; secrets are never read.
        if is_secret_key(&id) || !matches!(v, Yaml::Hash(_)) {
            continue;
        }
        courses.push(course_entry(file, &base, id, v, false)?);
    }
    Ok(CoursesYml { file: file.clone(), bot: arg.bot.clone(), courses })
}

/// What happened to one course of a courses.yml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its content was written: course.yaml, the elements, the settings.
    Imported,
    /// Imported before with the same file: nothing to do.
    Unchanged,
    /// `path: db`: in the database already, left as it is.
    InDatabase,
    /// The course has its own course row (published to the database): left as it is.
    HasCourseRow,
    /// The course has elements in the database already: left as it is.
    HasElements,
    /// No row of the legacy tables names the course: nothing to fill.
    NotNamed,
    /// Imported before from another file with other content: left as imported.
    ImportedOtherwise,
    /// An `ext_courses` entry whose course no given courses.yml defines.
    ExtNotFound,
    /// An `ext_courses` entry whose course another given courses.yml defines (imported there).
    ExtElsewhere,
}

/// One course and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CourseImport {
    pub course_id: String,
    pub bot: String,
    pub file: String,
    pub outcome: Outcome,
    pub elements: usize,
}

/// Everything an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub courses: Vec<CourseImport>,
}

impl ImportReport {
    pub fn imported(&self) -> usize {
        self.courses.iter().filter(|c| c.outcome == Outcome::Imported).count()
    }
}

fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "The import transaction was rolled back: nothing was changed.")
}

/// The bot of a courses.yml: given, else its folder's name when a bot has it, else
/// `default_bot`, else the only bot of account 1.
async fn bot_of<C: GenericClient + Sync>(client: &C, y: &CoursesYml, default_bot: Option<&str>) -> Result<String> {
    let bots: Vec<String> = client
        .query("SELECT bot_name FROM bot WHERE account_id = 1 ORDER BY bot_name", &[])
        .await
        .map_err(q("reading the bots"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(b) = &y.bot {
        if bots.contains(b) {
            return Ok(b.clone());
        }
        return Err(Error::Usage {
            message: format!("--courses-yml {}={}: no bot of the default account is named so", b, y.file.display()),
            hint: format!("Name one of the bots: {}.", bots.join(", ")),
        });
    }
    if let Some(folder) = y.folder_name().filter(|f| bots.contains(f)) {
        return Ok(folder);
    }
    if let Some(d) = default_bot.filter(|d| bots.iter().any(|b| b == d)) {
        return Ok(d.to_string());
    }
    if bots.len() == 1 {
        return Ok(bots[0].clone());
    }
    Err(Error::Usage {
        message: format!("{}: which bot's courses.yml it is cannot be told from its folder", y.file.display()),
        hint: format!("Name the bot: --courses-yml BOT={} (bots: {}).", y.file.display(), bots.join(", ")),
    })
}

/// Courses created from references (they live in YAML files) and whether their
/// content was imported: (course_id, imported, bots deployed).
pub async fn yaml_only_courses<C: GenericClient + Sync>(client: &C) -> Result<Vec<(String, bool, Vec<String>)>> {
    Ok(client
        .query(include_str!("../sql/courses/yaml_only.sql"), &[&crate::target::REFERENCE_COURSE_METADATA])
        .await
        .map_err(q("reading the courses that live in YAML files"))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Course ids that rows of a legacy database name but no course row holds.
pub async fn yaml_only_courses_legacy<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    Ok(client
        .query(include_str!("../sql/courses/yaml_only_legacy.sql"), &[])
        .await
        .map_err(q("reading the courses that live in YAML files"))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Writes the content of every YAML course that the legacy tables name, in one
/// transaction. `default_bot` names the bot of a courses.yml in `scripts/` itself.
pub async fn import(client: &mut tokio_postgres::Client, files: &[CoursesYml], default_bot: Option<&str>) -> Result<ImportReport> {
    let tx = client.transaction().await.map_err(q("starting the import"))?;
    let mut report = ImportReport::default();
    let mut bots = vec![];
    for y in files {
        bots.push(bot_of(&tx, y, default_bot).await?);
    }
    let hidden: bool = tx
        .query_one("SELECT to_regclass('profochat_saas.legacy_hidden_element') IS NOT NULL", &[])
        .await
        .map_err(q("reading the legacy interface"))?
        .get(0);
    for (y, bot) in files.iter().zip(&bots) {
        for c in &y.courses {
            let mut row = CourseImport {
                course_id: c.course_id.clone(),
                bot: bot.clone(),
                file: y.file.display().to_string(),
                outcome: Outcome::InDatabase,
                elements: 0,
            };
            let (path, text, elements) = match &c.source {
                Source::Db => {
                    report.courses.push(row);
                    continue;
                }
                Source::Elsewhere => {
                    let defined = files.iter().any(|o| {
                        o.courses.iter().any(|oc| oc.course_id == c.course_id && matches!(oc.source, Source::File { .. } | Source::Db))
                    });
                    row.outcome = if defined { Outcome::ExtElsewhere } else { Outcome::ExtNotFound };
                    report.courses.push(row);
                    continue;
                }
                Source::File { path, text, elements } => (path, text, elements),
            };
            row.file = path.display().to_string();
            let state = tx
                .query_opt(include_str!("../sql/courses/course_state.sql"), &[&c.course_id, &crate::target::REFERENCE_COURSE_METADATA])
                .await
                .map_err(q("reading the course"))?;
            let Some(state) = state else {
                row.outcome = Outcome::NotNamed;
                report.courses.push(row);
                continue;
            };
            let (from_references, imported, yaml, n_elements): (bool, bool, Option<String>, i64) =
                (state.get(0), state.get(1), state.get(2), state.get(3));
            row.outcome = if !from_references {
                Outcome::HasCourseRow
            } else if imported && yaml.as_deref() == Some(text.as_str()) {
                Outcome::Unchanged
            } else if imported {
                Outcome::ImportedOtherwise
            } else if n_elements > 0 {
                Outcome::HasElements
            } else {
                Outcome::Imported
            };
            if row.outcome == Outcome::Imported {
                let mut ids: Vec<i64> = Vec::with_capacity(elements.len());
                for e in elements {
                    let id: i64 = tx
                        .query_one(
                            "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES ($1, $2, $3, $4, $5) RETURNING course_element_id",
                            &[bot, &c.course_id, &e.element_id, &e.json, &e.element_type],
                        )
                        .await
                        .map_err(q("writing the course's elements"))?
                        .get(0);
                    ids.push(id);
                }
                if hidden {
                    tx.execute("INSERT INTO profochat_saas.legacy_hidden_element (course_element_id) SELECT unnest($1::int8[]) ON CONFLICT DO NOTHING", &[&ids])
                        .await
                        .map_err(q("keeping the imported elements out of the legacy interface"))?;
                }
                let source = serde_json::json!({
                    "courses_yml": y.file.display().to_string(),
                    "file": path.display().to_string(),
                    "bot": bot,
                    "elements": elements.len(),
                });
                tx.execute(
                    include_str!("../sql/courses/course_update.sql"),
                    &[&c.course_id, text, &serde_json::Value::Object(c.settings.clone()), &source],
                )
                .await
                .map_err(q("writing the course"))?;
                row.elements = elements.len();
            }
            report.courses.push(row);
        }
    }
    tx.commit().await.map_err(q("committing the import"))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn bot_file_argument() {
        assert_eq!("a.yml".parse::<CoursesYmlArg>().unwrap(), CoursesYmlArg { bot: None, file: "a.yml".into() });
        assert_eq!("bot=x/a.yml".parse::<CoursesYmlArg>().unwrap(), CoursesYmlArg { bot: Some("bot".into()), file: "x/a.yml".into() });
        assert_eq!("./x=y/a.yml".parse::<CoursesYmlArg>().unwrap(), CoursesYmlArg { bot: None, file: "./x=y/a.yml".into() });
        assert!("".parse::<CoursesYmlArg>().is_err());
    }

    #[test]
    fn secrets_are_recognised() {
        for k in ["token", "api_token", "BOT_TOKEN", "secret", "db_password"] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["element", "restricted", "decline_text", "ban_enabled", "ban_text", "path"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn bad_yaml_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("courses.yml");
        std::fs::write(&f, "a:\n  path: x.yml\n b: [\n").unwrap();
        let e = read(&CoursesYmlArg { bot: None, file: f.clone() }).unwrap_err().to_string();
        assert!(e.contains("courses.yml") && e.contains("line"), "{e}");
        std::fs::write(&f, "- just\n- a list\n").unwrap();
        assert!(read(&CoursesYmlArg { bot: None, file: f.clone() }).is_err());
        std::fs::write(&f, "c:\n  path: missing.yml\n").unwrap();
        let e = read(&CoursesYmlArg { bot: None, file: f.clone() }).unwrap_err().to_string();
        assert!(e.contains("missing.yml"), "{e}");
        // Deep nesting and odd input never panic.
        std::fs::write(&f, format!("a: {}{}", "[".repeat(5000), "]".repeat(5000))).unwrap();
        let _ = read(&CoursesYmlArg { bot: None, file: f.clone() });
        std::fs::write(&f, [0xffu8, 0xfe, 0x00]).unwrap();
        assert!(read(&CoursesYmlArg { bot: None, file: f }).is_err());
    }
}
