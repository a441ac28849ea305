//! The AWS CLI's shared files: `~/.aws/config` (`[default]`, `[profile NAME]`,
//! `[services NAME]`) and `~/.aws/credentials` (`[NAME]`), INI with `#`/`;` comments and
//! indented sub-keys (`ec2 =` followed by `  endpoint_url = …`), read as the AWS CLI reads them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment the resolution reads, captured once (tests build their own).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    home: Option<PathBuf>,
}

impl Env {
    /// The process environment and home directory.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars().collect(),
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
        }
    }

    /// An environment made of `vars`, with `home` as the home directory.
    pub fn new<I, K, V>(vars: I, home: Option<PathBuf>) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            home,
        }
    }

    /// A variable, `None` when unset or empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// `$AWS_CONFIG_FILE`, else `~/.aws/config`.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.file("AWS_CONFIG_FILE", "config")
    }

    /// `$AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    pub fn credentials_file(&self) -> Option<PathBuf> {
        self.file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
    }

    fn file(&self, var: &str, name: &str) -> Option<PathBuf> {
        if let Some(p) = self.var(var) {
            return Some(self.expand(p));
        }
        self.home.as_ref().map(|h| h.join(".aws").join(name))
    }

    /// `~/…` against the home directory.
    fn expand(&self, p: &str) -> PathBuf {
        match (p.strip_prefix("~/"), &self.home) {
            (Some(rest), Some(h)) => h.join(rest),
            _ => PathBuf::from(p),
        }
    }
}

/// One section's keys (lower-case); a sub-key is `parent.sub` (`ec2.endpoint_url`).
pub type Section = BTreeMap<String, String>;

/// A parsed INI file: sections by their full header (`profile dev`, `default`, `services s`).
#[derive(Debug, Clone, Default)]
pub struct IniFile {
    /// The file it came from (for messages).
    pub path: PathBuf,
    /// Sections.
    pub sections: BTreeMap<String, Section>,
}

/// Why a shared file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line is neither a section, a `key = value`, a comment nor an indented sub-key.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong (never the line's text: it may hold a secret).
        message: String,
    },
}

impl IniFile {
    /// Reads `path`; a missing file is an empty one.
    pub fn read(path: &Path) -> Result<IniFile, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => IniFile::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IniFile {
                path: path.to_path_buf(),
                sections: BTreeMap::new(),
            }),
            Err(source) => Err(ConfigError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses `text` (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<IniFile, ConfigError> {
        let mut sections: BTreeMap<String, Section> = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut parent: Option<String> = None;
        let err = |line: usize, message: &str| ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            message: message.to_string(),
        };
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if trimmed.starts_with('[') {
                let Some(name) = trimmed
                    .strip_prefix('[')
                    .and_then(|t| t.split(']').next())
                    .filter(|_| trimmed.contains(']'))
                else {
                    return Err(err(n, "a section header without ']'"));
                };
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                sections.entry(name.clone()).or_default();
                current = Some(name);
                parent = None;
                continue;
            }
            let Some(section) = current.as_ref() else {
                return Err(err(n, "a key before any [section]"));
            };
            let Some((k, v)) = trimmed.split_once('=') else {
                return Err(err(n, "expected `key = value`"));
            };
            let key = k.trim().to_ascii_lowercase();
            let value = v.trim().to_string();
            let indented = raw.starts_with([' ', '\t']);
            let entry = sections.entry(section.clone()).or_default();
            match (&parent, indented) {
                (Some(p), true) => {
                    entry.insert(format!("{p}.{key}"), value);
                }
                _ => {
                    parent = value.is_empty().then(|| key.clone());
                    entry.insert(key, value);
                }
            }
        }
        Ok(IniFile {
            path: path.to_path_buf(),
            sections,
        })
    }

    /// A section by header.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.get(name)
    }
}

/// A named profile, merged from the config and credentials files (the credentials file wins
/// for the keys both have).
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Its name.
    pub name: String,
    /// Its keys (lower-case).
    pub keys: Section,
    /// Keys of its `services` section (`ec2.endpoint_url`…), when it names one.
    pub services: Section,
    /// Whether either file has it.
    pub found: bool,
    /// The files read, for messages.
    pub files: Vec<PathBuf>,
}

impl Profile {
    /// A key's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Loads profile `name` from the files `env` points at.
    pub fn load(env: &Env, name: &str) -> Result<Profile, ConfigError> {
        let mut p = Profile {
            name: name.to_string(),
            ..Profile::default()
        };
        if let Some(path) = env.config_file() {
            let f = IniFile::read(&path)?;
            p.files.push(path);
            let header = if name == "default" {
                "default".to_string()
            } else {
                format!("profile {name}")
            };
            // `[profile default]` is accepted too, `[default]` wins.
            let sec = f
                .section(&header)
                .or_else(|| f.section(&format!("profile {name}")));
            if let Some(sec) = sec {
                p.found = true;
                p.keys.extend(sec.clone());
                if let Some(s) = sec.get("services").filter(|s| !s.is_empty()) {
                    if let Some(ss) = f.section(&format!("services {s}")) {
                        p.services = ss.clone();
                    }
                }
            }
        }
        if let Some(path) = env.credentials_file() {
            let f = IniFile::read(&path)?;
            p.files.push(path);
            if let Some(sec) = f.section(name) {
                p.found = true;
                p.keys.extend(sec.clone());
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_sub_keys() {
        let text = "# comment\n[default]\nregion = eu-west-1\n\n[profile dev]\nregion=us-east-1\nservices = local\n; c\n[services local]\nec2 =\n  endpoint_url = http://127.0.0.1:5000\nelastic_load_balancing_v2 =\n\tendpoint_url = http://127.0.0.1:5001\n";
        let f = IniFile::parse(text, Path::new("config")).unwrap();
        assert_eq!(f.section("default").unwrap()["region"], "eu-west-1");
        assert_eq!(f.section("profile dev").unwrap()["region"], "us-east-1");
        let s = f.section("services local").unwrap();
        assert_eq!(s["ec2.endpoint_url"], "http://127.0.0.1:5000");
        assert_eq!(
            s["elastic_load_balancing_v2.endpoint_url"],
            "http://127.0.0.1:5001"
        );
    }

    #[test]
    fn syntax_errors_name_the_line_not_its_text() {
        let e = IniFile::parse("[a]\nsecret-without-equals\n", Path::new("/x/credentials"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "/x/credentials:2: expected `key = value`");
        assert!(IniFile::parse("k = v\n", Path::new("c")).is_err());
        assert!(IniFile::parse("[a\n", Path::new("c")).is_err());
    }

    #[test]
    fn profiles_merge_both_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".aws")).unwrap();
        std::fs::write(
            d.path().join(".aws/config"),
            "[profile dev]\nregion = eu-west-2\nservices = s\n[services s]\nec2 =\n  endpoint_url = http://x\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join(".aws/credentials"),
            "[dev]\naws_access_key_id = AKIDEV\naws_secret_access_key = s3cr3t\n",
        )
        .unwrap();
        let env = Env::new([("A", "b")], Some(d.path().to_path_buf()));
        let p = Profile::load(&env, "dev").unwrap();
        assert!(p.found);
        assert_eq!(p.get("region"), Some("eu-west-2"));
        assert_eq!(p.get("aws_access_key_id"), Some("AKIDEV"));
        assert_eq!(p.services["ec2.endpoint_url"], "http://x");
        let none = Profile::load(&env, "nope").unwrap();
        assert!(!none.found);
        // AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE move them.
        let env = Env::new(
            [("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds")],
            Some(d.path().to_path_buf()),
        );
        let p = Profile::load(&env, "dev").unwrap();
        assert_eq!(p.get("aws_access_key_id"), None);
        assert_eq!(p.get("region"), Some("eu-west-2"));
    }
}
