//! Key files in a data directory: `node.key` (secret, mode 0600, written atomically) and
//! `node.vkey` (public), read strictly so that any changed byte is noticed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use super::*;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads a one-line key file. `None` if it does not exist.
fn read_key_file(path: &Path) -> Result<Option<String>, KeyError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut bytes = Vec::new();
    file.take(KEY_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    let with_path = |reason: &str| KeyError::Malformed {
        path: Some(path.to_owned()),
        reason: reason.to_owned(),
    };
    if bytes.len() as u64 > KEY_FILE_BYTES_MAX {
        wipe(&mut bytes);
        return Err(with_path("the file is too large to be a key file"));
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            wipe(&mut e.into_bytes());
            Err(with_path("the file is not valid UTF-8"))
        }
    }
}

/// The key line of a key file: its final line ending ("\n" or an editor's "\r\n") is not part
/// of the key, but nothing else is ignored, so any changed byte is noticed.
fn one_line(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

/// Attaches `path` to a parse error so the user knows which file to fix.
fn in_path(path: &Path) -> impl FnOnce(KeyError) -> KeyError + '_ {
    move |e| match e {
        KeyError::Malformed { path: None, reason } => KeyError::Malformed {
            path: Some(path.to_owned()),
            reason,
        },
        KeyError::InvalidName(name) => KeyError::Malformed {
            path: Some(path.to_owned()),
            reason: KeyError::InvalidName(name).to_string(),
        },
        e => e,
    }
}

/// Loads the node's key from `dir/node.key`. If `dir/node.vkey` exists it
/// must hold the same key's public half.
pub fn load_key(dir: &Path) -> Result<NodeKey, KeyError> {
    let skey_path = dir.join(SKEY_FILE);
    let text = read_key_file(&skey_path)?.ok_or_else(|| KeyError::Missing {
        path: skey_path.clone(),
    })?;
    let key = NodeKey::parse_skey(one_line(&text)).map_err(in_path(&skey_path));
    wipe(&mut text.into_bytes());
    let key = key?;
    let vkey_path = dir.join(VKEY_FILE);
    if let Some(vtext) = read_key_file(&vkey_path)? {
        let verifier = Verifier::parse_vkey(one_line(&vtext)).map_err(in_path(&vkey_path))?;
        if verifier != key.verifier() {
            return Err(KeyError::Mismatch {
                skey_path,
                vkey_path,
            });
        }
    }
    Ok(key)
}

/// Loads the node's public key from `dir/node.vkey` alone, for processes that
/// only verify and should not be able to read the secret.
pub fn load_verifier(dir: &Path) -> Result<Verifier, KeyError> {
    let path = dir.join(VKEY_FILE);
    let text = read_key_file(&path)?.ok_or_else(|| KeyError::Missing { path: path.clone() })?;
    Verifier::parse_vkey(one_line(&text)).map_err(in_path(&path))
}

fn exists(path: &Path) -> Result<bool, KeyError> {
    // symlink_metadata: a dangling symlink still occupies the name.
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn remove_if_exists(path: &Path) -> Result<(), KeyError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Writes `contents` to `dir/name` atomically: temp file, fsync, rename.
/// The caller fsyncs the directory.
fn write_atomically(dir: &Path, name: &str, contents: &[u8], secret: bool) -> Result<(), KeyError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    // A stale temp file from a crash may have the wrong mode, and opening an
    // existing file keeps its mode: start from scratch. `create_new` also
    // refuses to follow a symlink planted at the temp path.
    remove_if_exists(&tmp)?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        // Set at creation, so the secret is never readable by others, even
        // briefly. The umask can only make it stricter.
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&tmp).map_err(io_err(&tmp))?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&path)(e));
    }
    Ok(())
}

/// Makes renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Generates a key and writes `dir/node.key` and `dir/node.vkey`, creating
/// `dir` if needed. `name` defaults to [`default_key_name`]. Unless
/// `overwrite`, refuses to touch existing key files: replacing a log's key
/// orphans everything signed with the old one.
pub fn create_key_files(
    dir: &Path,
    name: Option<&str>,
    rng: &mut dyn RandomSource,
    overwrite: bool,
) -> Result<NodeKey, KeyError> {
    if let Some(name) = name {
        check_name(name)?;
    }
    let skey_path = dir.join(SKEY_FILE);
    let vkey_path = dir.join(VKEY_FILE);
    if !overwrite {
        for path in [&skey_path, &vkey_path] {
            if exists(path)? {
                return Err(KeyError::AlreadyExists { path: path.clone() });
            }
        }
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;

    let mut seed = [0u8; 32];
    rng.fill(&mut seed)?;
    let key = match name {
        Some(name) => NodeKey::from_seed(name, seed),
        None => {
            let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
            NodeKey::from_seed(&default_key_name(&public), seed)
        }
    };
    wipe(&mut seed);
    let key = key?;

    if overwrite {
        // Drop the old public key first: a crash between the two renames
        // below then leaves a lone new node.key (consistent), never a new
        // node.key next to the old node.vkey (a mismatch).
        remove_if_exists(&vkey_path)?;
        sync_dir(dir)?;
    }
    let mut skey = key.to_skey().into_bytes();
    skey.push(b'\n');
    let written = write_atomically(dir, SKEY_FILE, &skey, true);
    wipe(&mut skey);
    written?;
    let mut vkey = key.verifier().to_vkey();
    vkey.push('\n');
    write_atomically(dir, VKEY_FILE, vkey.as_bytes(), false)?;
    sync_dir(dir)?;
    Ok(key)
}

/// Loads the node's key, or creates one (with the default name) if the data
/// directory has none. The flag tells whether the key was created.
///
/// A `node.vkey` without `node.key` is an error ([`KeyError::Missing`]) rather
/// than a reason to create a key: that public key may already be trusted by
/// others, and silently replacing it would fork the log's identity.
pub fn load_or_create_key(
    dir: &Path,
    rng: &mut dyn RandomSource,
) -> Result<(NodeKey, bool), KeyError> {
    let skey_path = dir.join(SKEY_FILE);
    if exists(&skey_path)? || exists(&dir.join(VKEY_FILE))? {
        return load_key(dir).map(|k| (k, false));
    }
    create_key_files(dir, None, rng, false).map(|k| (k, true))
}
