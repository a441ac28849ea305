//! Terraform state importer: state files (format version 4: `terraform.tfstate`, modules,
//! `count`/`for_each` index keys) and `terraform show -json` output.
//!
//! The file is read as a stream: resources are turned into model objects one instance at a time,
//! and attribute values the model does not use are skipped without being kept, so memory grows
//! with the topology, not with the file (a 200 MB state file with large attributes imports in a
//! few megabytes). Resource types the model does not know are counted and skipped. Errors carry
//! the `line:column` where the input went wrong, and version 3 states (Terraform 0.11 and older)
//! are refused with a message that tells how to upgrade them.
//!
//! The code is split by concern: `read` walks the JSON (both formats) one resource instance at a
//! time, `builder` collects the model objects and resolves cross references at the end, and each
//! provider's module (`aws`, `gcp`, `digitalocean`, `azure`) holds its table of resource types:
//! one row per type, naming the struct its attributes are read into, whose `Resource::add` turns
//! them into model objects. Adding a resource type is adding a row.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

use crate::model::Topology;
use builder::Builder;

mod aws;
mod azure;
mod builder;
mod digitalocean;
mod gcp;
mod read;
#[cfg(test)]
mod tests;
mod values;

/// Which Terraform format a file was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateFormat {
    /// A state file, format version 4.
    StateV4,
    /// `terraform show -json` output.
    ShowJson,
}

/// What an import read and what it skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The file's format.
    pub format: StateFormat,
    /// The Terraform version that wrote it.
    pub terraform_version: Option<String>,
    /// Resource instances imported, by resource type (managed and data sources).
    pub imported: BTreeMap<String, usize>,
    /// How many of the imported instances were data sources.
    pub data_sources: usize,
    /// Resource instances of types the model does not use, by type.
    pub skipped: BTreeMap<String, usize>,
    /// Values that could not be used (a malformed CIDR, an unknown reference…), at most 100.
    pub warnings: Vec<String>,
}

impl ImportReport {
    /// Total imported resource instances.
    pub fn imported_total(&self) -> usize {
        self.imported.values().sum()
    }

    /// Total skipped resource instances.
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The input is not valid JSON or not shaped like a Terraform state.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// A state in a format version older than 4.
    #[error(
        "{path}: Terraform state format version {version} (written by Terraform 0.11 or older) \
         is not supported; upgrade it with Terraform 0.12 or newer (`terraform init` then \
         `terraform apply -refresh-only`), or import `terraform show -json` output"
    )]
    LegacyState {
        /// The file.
        path: String,
        /// The version found.
        version: u64,
    },
    /// A JSON document that is neither a state file nor `terraform show -json` output.
    #[error("{path}: not a Terraform state: {reason}")]
    NotAState {
        /// The file.
        path: String,
        /// What is missing.
        reason: String,
    },
}

/// Files up to this size are read whole and parsed from memory (about twice as fast); larger
/// ones are streamed, so memory stays bounded whatever the file's size.
pub const IN_MEMORY_LIMIT: u64 = 64 * 1024 * 1024;

/// Imports a state file or `terraform show -json` output from disk.
pub fn import_file(path: &Path) -> Result<(Topology, ImportReport), ImportError> {
    let label = path.display().to_string();
    let io = |source| ImportError::Io {
        path: label.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len <= IN_MEMORY_LIMIT {
        let mut bytes = Vec::with_capacity(len as usize);
        let mut file = file;
        file.read_to_end(&mut bytes).map_err(io)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        return run(&mut de, &label);
    }
    import_reader(std::io::BufReader::with_capacity(256 * 1024, file), &label)
}

/// Imports from a string (`label` names it in errors).
pub fn import_str(text: &str, label: &str) -> Result<(Topology, ImportReport), ImportError> {
    let mut de = serde_json::Deserializer::from_str(text);
    run(&mut de, label)
}

/// Imports from a reader, streaming (`label` names it in errors). Wrap files in a `BufReader`.
pub fn import_reader<R: Read>(
    reader: R,
    label: &str,
) -> Result<(Topology, ImportReport), ImportError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    run(&mut de, label)
}

fn run<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    label: &str,
) -> Result<(Topology, ImportReport), ImportError> {
    let mut b = Builder::default();
    let res = (&mut *de)
        .deserialize_map(read::RootVisitor(&mut b))
        .and_then(|()| de.end());
    if let Err(e) = res {
        if let Some(version) = b.legacy {
            return Err(ImportError::LegacyState {
                path: label.to_string(),
                version,
            });
        }
        if e.is_io() {
            return Err(ImportError::Io {
                path: label.to_string(),
                source: std::io::Error::other(e.to_string()),
            });
        }
        let full = e.to_string();
        let text = match full.rfind(" at line ") {
            Some(i) => &full[..i],
            None => full.as_str(),
        };
        let message = match e.classify() {
            serde_json::error::Category::Eof => {
                format!("the input ends early (truncated file?): {text}")
            }
            serde_json::error::Category::Syntax => format!("invalid JSON: {text}"),
            _ => text.to_string(),
        };
        return Err(ImportError::Parse {
            path: label.to_string(),
            line: e.line(),
            column: e.column(),
            message,
        });
    }
    let Some(format) = b.format else {
        return Err(ImportError::NotAState {
            path: label.to_string(),
            reason: "it has neither \"version\" (state file) nor \"format_version\" \
                     (terraform show -json)"
                .into(),
        });
    };
    let terraform_version = b.terraform_version.take();
    let (topology, mut report) = b.finish();
    report.format = format;
    report.terraform_version = terraform_version;
    Ok((topology, report))
}

// ---------------------------------------------------------------------------------------------
// Resource mappings: a table per provider, a row per resource type
// ---------------------------------------------------------------------------------------------

/// The attributes of a resource type the model reads, as serde reads them (attributes the struct
/// does not name are skipped without being kept), and how one instance becomes model objects.
trait Resource: DeserializeOwned {
    /// Adds one instance to the builder; `managed` is false for a data source.
    fn add(self, b: &mut Builder, managed: bool);
}

/// Reads one instance's attributes from `D` and adds them to the builder (`managed` is false for
/// a data source).
type Decode<'de, D> = fn(D, &mut Builder, bool) -> Result<(), <D as Deserializer<'de>>::Error>;

/// A row of a provider's table: the Terraform resource types it reads and how it reads them.
///
/// The tables are arrays built in a function rather than `static`s because a row's decoder is
/// generic over the deserializer (a file in memory, a stream, a buffered value); the rows are
/// constants, so looking one up allocates nothing.
struct Mapping<'de, D: Deserializer<'de>> {
    /// A resource type and its aliases (`aws_lb`, `aws_alb`).
    types: &'static [&'static str],
    /// Reads an instance into the row's attribute struct and adds it to the model.
    decode: Decode<'de, D>,
}

impl<'de, D: Deserializer<'de>> Mapping<'de, D> {
    /// The row reading the resource types `types` into `A`.
    fn of<A: Resource>(types: &'static [&'static str]) -> Self {
        Mapping {
            types,
            decode: |d, b, managed| A::deserialize(d).map(|a| a.add(b, managed)),
        }
    }
}

/// The decoder of the row of `rows` that reads `ty`.
fn lookup<'de, D: Deserializer<'de>>(ty: &str, rows: &[Mapping<'de, D>]) -> Option<Decode<'de, D>> {
    rows.iter()
        .find(|m| m.types.contains(&ty))
        .map(|m| m.decode)
}

/// The decoder of the resource type `ty` from the providers' tables; none for a type the model
/// does not read (counted as skipped).
fn decoder<'de, D: Deserializer<'de>>(ty: &str) -> Option<Decode<'de, D>> {
    aws::find(ty)
        .or_else(|| gcp::find(ty))
        .or_else(|| digitalocean::find(ty))
        .or_else(|| azure::find(ty))
}
