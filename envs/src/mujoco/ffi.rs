//! The MuJoCo C library, opened at run time.
//!
//! Nothing links against MuJoCo: [`library`] opens `libmujoco.so.4.0.1` the first time a MuJoCo
//! environment is built, so a binary without the library starts and runs every other task.
//! The library is looked for at `$EGGROLL_MUJOCO_LIB`, then in the cache that
//! `scripts/get-mujoco.sh` fills (`~/.cache/eggroll/mujoco-4.0.1/lib/`). A library of another
//! version is refused: the field offsets in [`super::layout`] and parity with Gymnasium hold
//! for 4.0.1 only.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::OnceLock;

use super::layout::MJ_VERSION;

/// The variable that names the MuJoCo library file.
pub const LIB_VAR: &str = "EGGROLL_MUJOCO_LIB";
/// The MuJoCo version eggroll is built for (Gymnasium parity depends on it).
pub const VERSION: &str = "4.0.1";

/// Why MuJoCo cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MujocoError {
    /// No library file at any searched place.
    #[error(
        "MuJoCo {VERSION} not found (looked at {tried}); run `scripts/get-mujoco.sh` or set \
         {LIB_VAR} to the path of libmujoco.so.{VERSION}"
    )]
    Missing {
        /// The places looked at.
        tried: String,
    },
    /// The file exists but could not be opened or lacks a function.
    #[error(
        "cannot open MuJoCo library {path}: {reason} (set {LIB_VAR} or rerun `scripts/get-mujoco.sh`)"
    )]
    Open {
        /// The library file.
        path: String,
        /// The loader's message.
        reason: String,
    },
    /// The library is another version than the one eggroll's offsets and parity are for.
    #[error(
        "MuJoCo library {path} is version {found}, eggroll needs {VERSION}; run \
         `scripts/get-mujoco.sh` or point {LIB_VAR} at libmujoco.so.{VERSION}"
    )]
    Version {
        /// The library file.
        path: String,
        /// The version it reports.
        found: String,
    },
    /// MuJoCo refused a model.
    #[error("MuJoCo could not load model {name}: {reason}")]
    Model {
        /// The model's name.
        name: String,
        /// MuJoCo's message.
        reason: String,
    },
}

type LoadXml =
    unsafe extern "C" fn(*const c_char, *const c_void, *mut c_char, c_int) -> *mut c_void;
type ModelDataFn = unsafe extern "C" fn(*const c_void, *mut c_void);

/// The functions eggroll calls. `mjModel*` and `mjData*` are opaque pointers here; their
/// fields are read at the offsets of [`super::layout`].
pub struct Library {
    _lib: libloading::Library,
    /// Where the library was opened from.
    pub path: String,
    pub(crate) load_xml: LoadXml,
    pub(crate) default_vfs: unsafe extern "C" fn(*mut c_void),
    pub(crate) add_buffer_vfs:
        unsafe extern "C" fn(*mut c_void, *const c_char, *const c_void, c_int) -> c_int,
    pub(crate) delete_vfs: unsafe extern "C" fn(*mut c_void),
    pub(crate) make_data: unsafe extern "C" fn(*const c_void) -> *mut c_void,
    pub(crate) copy_data:
        unsafe extern "C" fn(*mut c_void, *const c_void, *const c_void) -> *mut c_void,
    pub(crate) delete_data: unsafe extern "C" fn(*mut c_void),
    pub(crate) delete_model: unsafe extern "C" fn(*mut c_void),
    pub(crate) reset_data: ModelDataFn,
    pub(crate) forward: ModelDataFn,
    pub(crate) step: ModelDataFn,
    pub(crate) rne_post_constraint: ModelDataFn,
    pub(crate) name2id: unsafe extern "C" fn(*const c_void, c_int, *const c_char) -> c_int,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("path", &self.path).finish()
    }
}

/// The places searched for the library, in order.
pub fn search_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(p) = std::env::var_os(LIB_VAR).filter(|p| !p.is_empty()) {
        paths.push(PathBuf::from(p));
        return paths;
    }
    if let Some(home) = std::env::var_os("HOME") {
        paths.push(
            PathBuf::from(home)
                .join(".cache/eggroll")
                .join(format!("mujoco-{VERSION}"))
                .join("lib")
                .join(format!("libmujoco.so.{VERSION}")),
        );
    }
    paths
}

/// Open `path` and check its version.
pub fn open(path: &std::path::Path) -> Result<Library, MujocoError> {
    let shown = path.display().to_string();
    let open_err = |reason: String| MujocoError::Open {
        path: shown.clone(),
        reason,
    };
    // SAFETY: opening MuJoCo runs no user-visible initialisers beyond its own.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| open_err(e.to_string()))?;
    macro_rules! sym {
        ($name:literal) => {
            // SAFETY: the symbol's type is the C prototype of MuJoCo 4.0.1 (mujoco.h); the
            // version is checked before any other function is called.
            *unsafe { lib.get(concat!($name, "\0").as_bytes()) }
                .map_err(|e| open_err(format!("{}: {e}", $name)))?
        };
    }
    let version_string: unsafe extern "C" fn() -> *const c_char = sym!("mj_versionString");
    let version: unsafe extern "C" fn() -> c_int = sym!("mj_version");
    // SAFETY: both take nothing and return static data.
    let (found_num, found) = unsafe {
        (
            version(),
            CStr::from_ptr(version_string())
                .to_string_lossy()
                .into_owned(),
        )
    };
    if found_num != MJ_VERSION || found != VERSION {
        return Err(MujocoError::Version { path: shown, found });
    }
    // MuJoCo's default warning handler prints and appends to MUJOCO_LOG.TXT in the working
    // directory; ours only counts and keeps the last message (see `warnings`).
    // SAFETY: `mju_user_warning` is a `void (*)(const char*)` variable of the library.
    unsafe {
        let hook: libloading::Symbol<*mut Option<unsafe extern "C" fn(*const c_char)>> = lib
            .get(b"mju_user_warning\0")
            .map_err(|e| open_err(format!("mju_user_warning: {e}")))?;
        **hook = Some(on_warning);
    }
    Ok(Library {
        load_xml: sym!("mj_loadXML"),
        default_vfs: sym!("mj_defaultVFS"),
        add_buffer_vfs: sym!("mj_addBufferVFS"),
        delete_vfs: sym!("mj_deleteVFS"),
        make_data: sym!("mj_makeData"),
        copy_data: sym!("mj_copyData"),
        delete_data: sym!("mj_deleteData"),
        delete_model: sym!("mj_deleteModel"),
        reset_data: sym!("mj_resetData"),
        forward: sym!("mj_forward"),
        step: sym!("mj_step"),
        rne_post_constraint: sym!("mj_rnePostConstraint"),
        name2id: sym!("mj_name2id"),
        path: shown,
        _lib: lib,
    })
}

static WARNINGS: std::sync::Mutex<(u64, String)> = std::sync::Mutex::new((0, String::new()));

unsafe extern "C" fn on_warning(msg: *const c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: MuJoCo passes a NUL-terminated message.
    let text = unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned();
    if let Ok(mut w) = WARNINGS.lock() {
        w.0 += 1;
        w.1 = text;
    }
}

/// How many warnings MuJoCo has issued in this process, and the last one (MuJoCo warns, for
/// instance, that Humanoid's `settotalmass` attribute is deprecated).
pub fn warnings() -> (u64, String) {
    WARNINGS
        .lock()
        .map(|w| w.clone())
        .unwrap_or((0, String::new()))
}

/// The process-wide library, opened on first use from [`search_paths`].
pub fn library() -> Result<&'static Library, MujocoError> {
    static LIB: OnceLock<Result<Library, MujocoError>> = OnceLock::new();
    LIB.get_or_init(|| {
        let paths = search_paths();
        match paths.iter().find(|p| p.exists()) {
            Some(p) => open(p),
            None => Err(MujocoError::Missing {
                tried: if paths.is_empty() {
                    "no path: neither $EGGROLL_MUJOCO_LIB nor $HOME is set".into()
                } else {
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Whether the library can be used here (for tests that skip without it).
pub fn available() -> bool {
    library().is_ok()
}
