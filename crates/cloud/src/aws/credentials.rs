//! Credentials, found as the AWS CLI finds them:
//!
//! 1. an explicit `--profile` uses that profile only;
//! 2. else `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
//! 3. else the profile `$AWS_PROFILE` (or `default`): static keys from the credentials or config
//!    file, or the JSON its `credential_process` prints.
//!
//! Role assumption, SSO and instance metadata are not supported: such a profile gets an error
//! saying so (and that `credential_process` is the way around). Secrets never appear in `Debug`,
//! errors or logs, and are wiped from memory on drop.

use std::fmt;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use zeroize::Zeroizing;

use super::config::{ConfigError, Env, Profile};

/// How long a `credential_process` may run.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// AWS credentials. `Debug` shows the access key id's first characters only.
#[derive(Clone)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    /// Where they came from (`environment`, `profile dev (credentials file)`…).
    pub source: String,
}

impl Credentials {
    /// Credentials from their parts.
    pub fn new(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
        source: &str,
    ) -> Credentials {
        Credentials {
            access_key_id: access_key_id.trim().to_string(),
            secret_access_key: Zeroizing::new(secret_access_key.trim().to_string()),
            session_token: session_token
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Zeroizing::new(t.to_string())),
            source: source.to_string(),
        }
    }

    /// The secret key (for signing only).
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token, for temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref().map(String::as_str)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.access_key_id.chars().take(4).collect();
        f.debug_struct("Credentials")
            .field("access_key_id", &format!("{shown}…"))
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("source", &self.source)
            .finish()
    }
}

/// Why no credentials were found. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A shared file could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Nothing provides credentials.
    #[error("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give a profile (--profile or AWS_PROFILE) with aws_access_key_id/aws_secret_access_key or credential_process in {files}")]
    NotFound {
        /// The files looked at.
        files: String,
    },
    /// The profile asked for is in neither file.
    #[error("AWS profile {profile:?} is not in {files}")]
    NoProfile {
        /// The profile.
        profile: String,
        /// The files looked at.
        files: String,
    },
    /// Only one of the key id and secret is set.
    #[error("{origin}: {missing} is missing")]
    Incomplete {
        /// Where.
        origin: String,
        /// Which key.
        missing: &'static str,
    },
    /// The profile uses a mechanism this importer does not implement.
    #[error("AWS profile {profile:?} uses {what}, which gatehouse does not support: give it static keys or a credential_process (e.g. `aws configure export-credentials --profile {profile} --format process`)")]
    Unsupported {
        /// The profile.
        profile: String,
        /// The mechanism (`role_arn`, `sso_session`…).
        what: String,
    },
    /// The credential process failed.
    #[error("credential_process of profile {profile:?}: {message}")]
    Process {
        /// The profile.
        profile: String,
        /// What failed (exit status, first stderr line, JSON error; never stdout).
        message: String,
    },
}

/// Finds credentials: `profile` is the `--profile` flag.
pub fn resolve(env: &Env, profile: Option<&str>) -> Result<Credentials, CredentialsError> {
    if profile.is_none() {
        let id = env.var("AWS_ACCESS_KEY_ID");
        let secret = env.var("AWS_SECRET_ACCESS_KEY");
        match (id, secret) {
            (Some(id), Some(secret)) => {
                return Ok(Credentials::new(
                    id,
                    secret,
                    env.var("AWS_SESSION_TOKEN"),
                    "environment",
                ))
            }
            (Some(_), None) => {
                return Err(CredentialsError::Incomplete {
                    origin: "environment".into(),
                    missing: "AWS_SECRET_ACCESS_KEY",
                })
            }
            (None, Some(_)) => {
                return Err(CredentialsError::Incomplete {
                    origin: "environment".into(),
                    missing: "AWS_ACCESS_KEY_ID",
                })
            }
            (None, None) => {}
        }
    }
    let explicit = profile.is_some() || env.var("AWS_PROFILE").is_some();
    let name = profile_name(env, profile);
    let p = Profile::load(env, &name)?;
    let files = p
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(" and ");
    if !p.found {
        return Err(if explicit {
            CredentialsError::NoProfile {
                profile: name,
                files,
            }
        } else {
            CredentialsError::NotFound { files }
        });
    }
    from_profile(&p, &files)
}

/// The profile in use: `--profile`, else `$AWS_PROFILE`, else `default`.
pub fn profile_name(env: &Env, flag: Option<&str>) -> String {
    flag.or_else(|| env.var("AWS_PROFILE"))
        .unwrap_or("default")
        .trim()
        .to_string()
}

fn from_profile(p: &Profile, files: &str) -> Result<Credentials, CredentialsError> {
    let source = format!("profile {}", p.name);
    match (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => {
            return Ok(Credentials::new(
                id,
                secret,
                p.get("aws_session_token"),
                &source,
            ))
        }
        (Some(_), None) => {
            return Err(CredentialsError::Incomplete {
                origin: source,
                missing: "aws_secret_access_key",
            })
        }
        (None, Some(_)) => {
            return Err(CredentialsError::Incomplete {
                origin: source,
                missing: "aws_access_key_id",
            })
        }
        (None, None) => {}
    }
    if let Some(cmd) = p.get("credential_process") {
        return run_process(&p.name, cmd, PROCESS_TIMEOUT);
    }
    for what in [
        "role_arn",
        "sso_session",
        "sso_start_url",
        "web_identity_token_file",
    ] {
        if p.get(what).is_some() {
            return Err(CredentialsError::Unsupported {
                profile: p.name.clone(),
                what: what.into(),
            });
        }
    }
    Err(CredentialsError::NotFound {
        files: files.to_string(),
    })
}

/// Splits a command line as a POSIX shell would (quotes and backslashes), without running a
/// shell.
pub fn split_command(s: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("an unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err("an unterminated \" quote".into()),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("an unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    cur.push(ch);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    if args.is_empty() {
        return Err("the command is empty".into());
    }
    Ok(args)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessOutput {
    version: u32,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
}

impl Drop for ProcessOutput {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.secret_access_key.zeroize();
        self.session_token.zeroize();
    }
}

/// Runs a `credential_process` command and reads its JSON (version 1).
pub fn run_process(
    profile: &str,
    cmd: &str,
    timeout: Duration,
) -> Result<Credentials, CredentialsError> {
    let fail = |message: String| CredentialsError::Process {
        profile: profile.to_string(),
        message,
    };
    let args = split_command(cmd).map_err(fail)?;
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run {:?}: {e}", args[0])))?;
    // Read both pipes on threads so a chatty process cannot block on a full pipe.
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Zeroizing::new(Vec::new());
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.take(1 << 20).read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.take(1 << 16).read_to_end(&mut buf);
        }
        buf
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("{:?} ran longer than {timeout:?}", args[0])));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(fail(format!("waiting for {:?}: {e}", args[0]))),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if !status.success() {
        let first = String::from_utf8_lossy(&stderr)
            .lines()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!(": {}", l.trim().chars().take(200).collect::<String>()))
            .unwrap_or_default();
        return Err(fail(format!("{:?} failed ({status}){first}", args[0])));
    }
    // serde_json's messages name positions, never the values.
    let parsed: ProcessOutput = serde_json::from_slice(&stdout)
        .map_err(|e| fail(format!("its output is not the expected JSON: {e}")))?;
    if parsed.version != 1 {
        return Err(fail(format!(
            "its output has Version {}, only 1 is known",
            parsed.version
        )));
    }
    let (Some(id), Some(secret)) = (&parsed.access_key_id, &parsed.secret_access_key) else {
        return Err(fail(
            "its output lacks AccessKeyId or SecretAccessKey".into(),
        ));
    };
    Ok(Credentials::new(
        id,
        secret,
        parsed.session_token.as_deref(),
        &format!("profile {profile} (credential_process)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn home(config: &str, credentials: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".aws")).unwrap();
        std::fs::write(d.path().join(".aws/config"), config).unwrap();
        std::fs::write(d.path().join(".aws/credentials"), credentials).unwrap();
        d
    }

    fn env(vars: &[(&str, &str)], home: &Path) -> Env {
        Env::new(vars.iter().copied(), Some(home.to_path_buf()))
    }

    #[test]
    fn environment_then_profiles() {
        let h = home(
            "[profile dev]\nregion = eu-west-1\n",
            "[default]\naws_access_key_id = AKIDEFAULT\naws_secret_access_key = d\n[dev]\naws_access_key_id = AKIDEV\naws_secret_access_key = s\naws_session_token = t\n",
        );
        let e = env(
            &[
                ("AWS_ACCESS_KEY_ID", "AKIENV"),
                ("AWS_SECRET_ACCESS_KEY", "x"),
                ("AWS_PROFILE", "dev"),
            ],
            h.path(),
        );
        // The environment's keys win over AWS_PROFILE, an explicit --profile over both.
        assert_eq!(resolve(&e, None).unwrap().access_key_id, "AKIENV");
        let c = resolve(&e, Some("dev")).unwrap();
        assert_eq!(c.access_key_id, "AKIDEV");
        assert_eq!(c.session_token(), Some("t"));
        assert_eq!(c.source, "profile dev");
        let e = env(&[("AWS_PROFILE", "dev")], h.path());
        assert_eq!(resolve(&e, None).unwrap().access_key_id, "AKIDEV");
        let e = env(&[], h.path());
        assert_eq!(resolve(&e, None).unwrap().access_key_id, "AKIDEFAULT");
        let err = resolve(&e, Some("missing")).unwrap_err().to_string();
        assert!(err.contains("\"missing\" is not in"), "{err}");
        let e = env(&[("AWS_ACCESS_KEY_ID", "AKIENV")], h.path());
        let err = resolve(&e, None).unwrap_err().to_string();
        assert_eq!(err, "environment: AWS_SECRET_ACCESS_KEY is missing");
    }

    #[test]
    fn debug_is_redacted() {
        let c = Credentials::new("AKIAEXAMPLE123", "wJalrXUtnFEMI", Some("tok3n"), "env");
        let d = format!("{c:?}");
        assert!(d.contains("AKIA…"), "{d}");
        for secret in ["EXAMPLE123", "wJalr", "tok3n"] {
            assert!(!d.contains(secret), "{d}");
        }
    }

    #[test]
    fn unsupported_profiles_say_so() {
        let h = home(
            "[profile role]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n",
            "",
        );
        let err = resolve(&env(&[], h.path()), Some("role"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("role_arn") && err.contains("credential_process"),
            "{err}"
        );
        let err = resolve(&env(&[], h.path()), None).unwrap_err().to_string();
        assert!(err.starts_with("no AWS credentials"), "{err}");
    }

    #[test]
    fn command_lines_split_like_a_shell() {
        assert_eq!(
            split_command(r#"/bin/echo 'a b' "c \"d\"" e\ f"#).unwrap(),
            ["/bin/echo", "a b", "c \"d\"", "e f"]
        );
        assert!(split_command("  ").is_err());
        assert!(split_command("x 'y").is_err());
    }

    #[test]
    fn credential_process_output() {
        let h = home(
            "[profile p]\ncredential_process = /bin/sh -c 'printf \"%s\" \"{\\\"Version\\\": 1, \\\"AccessKeyId\\\": \\\"AKIPROC\\\", \\\"SecretAccessKey\\\": \\\"sk\\\", \\\"SessionToken\\\": \\\"st\\\"}\"'\n[profile bad]\ncredential_process = /bin/sh -c 'echo nope >&2; exit 3'\n[profile v2]\ncredential_process = /bin/echo '{\"Version\":2}'\n",
            "",
        );
        let e = env(&[], h.path());
        let c = resolve(&e, Some("p")).unwrap();
        assert_eq!(c.access_key_id, "AKIPROC");
        assert_eq!(c.secret_access_key(), "sk");
        assert_eq!(c.session_token(), Some("st"));
        assert_eq!(c.source, "profile p (credential_process)");
        let err = resolve(&e, Some("bad")).unwrap_err().to_string();
        assert!(
            err.contains("exit status: 3") && err.ends_with(": nope"),
            "{err}"
        );
        let err = resolve(&e, Some("v2")).unwrap_err().to_string();
        assert!(err.contains("Version 2"), "{err}");
        let err = run_process("slow", "/bin/sleep 5", Duration::from_millis(100))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ran longer"), "{err}");
    }
}
