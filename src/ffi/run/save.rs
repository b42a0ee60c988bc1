//! Saving files and bytes with a `simvue_run` (artifacts).

use std::ffi::c_char;
use std::path::Path;

use super::super::convert::{cstr, opt_cstr, str_array};
use super::super::result::{simvue_result, FfiError, FfiResult};
use super::{flag, parse_json_object, simvue_run, with_enabled_run};

use crate::artifact::{Category, SaveOptions};

/// Category `input`: something the run reads (an input deck).
pub const SIMVUE_CATEGORY_INPUT: i32 = 0;
/// Category `output`: something the run produced (refused while the run is only created).
pub const SIMVUE_CATEGORY_OUTPUT: i32 = 1;
/// Category `code`: source code.
pub const SIMVUE_CATEGORY_CODE: i32 = 2;

/// Save flag: copy the file into the offline cache now and save the copy, so that later
/// changes to the file are not saved.
pub const SIMVUE_SAVE_SNAPSHOT: u32 = 1;
/// Save flag: return only once the save is complete (uploaded online, recorded offline), with
/// its outcome; otherwise saving happens on a background thread and `close` waits for it.
pub const SIMVUE_SAVE_WAIT: u32 = 2;

fn category(c: i32) -> FfiResult<Category> {
    match c {
        SIMVUE_CATEGORY_INPUT => Ok(Category::Input),
        SIMVUE_CATEGORY_OUTPUT => Ok(Category::Output),
        SIMVUE_CATEGORY_CODE => Ok(Category::Code),
        c => Err(FfiError::unknown_enum(format!(
            "{c} is not a SIMVUE_CATEGORY_* value"
        ))),
    }
}

fn save_flags(flags: u32) -> FfiResult<(bool, bool)> {
    if flags & !(SIMVUE_SAVE_SNAPSHOT | SIMVUE_SAVE_WAIT) != 0 {
        return Err(FfiError::unknown_enum(format!(
            "flags {flags:#x} has bits other than SIMVUE_SAVE_SNAPSHOT and SIMVUE_SAVE_WAIT"
        )));
    }
    Ok((
        flags & SIMVUE_SAVE_SNAPSHOT != 0,
        flags & SIMVUE_SAVE_WAIT != 0,
    ))
}

/// The arguments the save functions share: category, options, and whether to wait.
///
/// # Safety
/// `filetype` and `name` are NULL or NUL-terminated.
unsafe fn save_args<'a>(
    category: i32,
    filetype: *const c_char,
    preserve_path: i32,
    name: *const c_char,
    flags: u32,
) -> FfiResult<(Category, SaveOptions<'a>, bool)> {
    let cat = self::category(category)?;
    let (snapshot, wait) = save_flags(flags)?;
    let opts = SaveOptions {
        mime_type: opt_cstr(filetype, "filetype")?,
        preserve_path: preserve(preserve_path)?,
        name: opt_cstr(name, "name")?,
        snapshot,
        metadata: None,
    };
    Ok((cat, opts, wait))
}

fn preserve(v: i32) -> FfiResult<bool> {
    flag(v, "preserve_path")?.ok_or_else(|| FfiError::unknown_enum("preserve_path must be 0 or 1"))
}

/// Saves a file with the run (the seed's `save`).
///
/// - `category`: `SIMVUE_CATEGORY_INPUT`, `_OUTPUT` or `_CODE`.
/// - `filetype`: a MIME type, or NULL to guess it from the file name as Python's `mimetypes`
///   does; it must be one the Python client accepts.
/// - `preserve_path`: 1 to name the artifact by its path relative to the working directory
///   (a file outside it is refused), 0 for its base name.
/// - `name`: the artifact's name, or NULL for the derived one.
/// - `flags`: `SIMVUE_SAVE_SNAPSHOT`, `SIMVUE_SAVE_WAIT`, or 0.
///
/// The file is checked now (missing, a directory, unreadable: an error); it is hashed and
/// saved on a background thread, streamed in chunks, so large files never sit in memory.
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save(
    run: *mut simvue_run,
    filename: *const c_char,
    category: i32,
    filetype: *const c_char,
    preserve_path: i32,
    name: *const c_char,
    flags: u32,
) -> simvue_result {
    simvue_run_save_ex(
        run,
        filename,
        category,
        filetype,
        preserve_path,
        name,
        flags,
        std::ptr::null(),
    )
}

/// Saves a file as `simvue_run_save` does, with `metadata_json` (a JSON object, or NULL for
/// none) as the artifact's metadata (`save_file(..., metadata=...)`).
///
/// # Safety
/// As `simvue_run_save`; `metadata_json` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save_ex(
    run: *mut simvue_run,
    filename: *const c_char,
    category: i32,
    filetype: *const c_char,
    preserve_path: i32,
    name: *const c_char,
    flags: u32,
    metadata_json: *const c_char,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let path = cstr(filename, "filename")?;
        let (cat, mut opts, wait) = save_args(category, filetype, preserve_path, name, flags)?;
        opts.metadata = opt_cstr(metadata_json, "metadata_json")?
            .map(|m| parse_json_object(m, "metadata_json"))
            .transpose()?;
        Ok(run.save_file(Path::new(path), cat, opts, wait)?)
    })
}

/// Saves every regular file below `directory` (the seed's `save_directory`); arguments as
/// `simvue_run_save`. A file that cannot be saved is reported and does not stop the others;
/// the result then is the first failure's code and the message says how many failed.
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save_directory(
    run: *mut simvue_run,
    directory: *const c_char,
    category: i32,
    filetype: *const c_char,
    preserve_path: i32,
    flags: u32,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let dir = cstr(directory, "directory")?;
        let (cat, opts, wait) =
            save_args(category, filetype, preserve_path, std::ptr::null(), flags)?;
        Ok(run.save_directory(Path::new(dir), cat, opts, wait)?)
    })
}

/// Saves `n` files and directories (the seed's `save_all`); as `simvue_run_save_directory`.
///
/// # Safety
/// `run` is NULL or a live handle; `paths` is NULL or holds `n` string pointers.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save_all(
    run: *mut simvue_run,
    paths: *const *const c_char,
    n: usize,
    category: i32,
    filetype: *const c_char,
    preserve_path: i32,
    flags: u32,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let paths = str_array(paths, n, "paths")?;
        let (cat, opts, wait) =
            save_args(category, filetype, preserve_path, std::ptr::null(), flags)?;
        let paths: Vec<&Path> = paths.iter().map(Path::new).collect();
        Ok(run.save_all(&paths, cat, opts, wait)?)
    })
}

/// Saves `size` bytes from memory as an artifact called `name` (the C counterpart of saving
/// a Python object): a field the solver holds, a JSON summary. The bytes are copied before the
/// call returns. `filetype` is a MIME type or NULL (`application/octet-stream`); `flags` may
/// hold `SIMVUE_SAVE_WAIT`.
///
/// # Safety
/// `run` is NULL or a live handle; `data` is NULL (only with `size` 0) or holds `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save_bytes(
    run: *mut simvue_run,
    name: *const c_char,
    data: *const std::ffi::c_void,
    size: usize,
    category: i32,
    filetype: *const c_char,
    flags: u32,
) -> simvue_result {
    simvue_run_save_bytes_ex(
        run,
        name,
        data,
        size,
        category,
        filetype,
        flags,
        std::ptr::null(),
    )
}

/// Saves bytes as `simvue_run_save_bytes` does, with `metadata_json` (a JSON object, or NULL
/// for none) as the artifact's metadata (`save_object(..., metadata=...)`).
///
/// # Safety
/// As `simvue_run_save_bytes`; `metadata_json` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_save_bytes_ex(
    run: *mut simvue_run,
    name: *const c_char,
    data: *const std::ffi::c_void,
    size: usize,
    category: i32,
    filetype: *const c_char,
    flags: u32,
    metadata_json: *const c_char,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let name = cstr(name, "name")?;
        if data.is_null() && size > 0 {
            return Err(FfiError::null(format!("data is NULL but size is {size}")));
        }
        let cat = self::category(category)?;
        let (snapshot, wait) = save_flags(flags)?;
        if snapshot {
            return Err(FfiError::invalid(
                "SIMVUE_SAVE_SNAPSHOT does not apply to bytes (they are copied anyway)",
            ));
        }
        let bytes = if size == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(data.cast::<u8>(), size).to_vec()
        };
        let metadata = opt_cstr(metadata_json, "metadata_json")?
            .map(|m| parse_json_object(m, "metadata_json"))
            .transpose()?;
        Ok(run.save_bytes(
            name,
            bytes,
            cat,
            opt_cstr(filetype, "filetype")?,
            metadata,
            wait,
        )?)
    })
}
