//! Safe handles on MuJoCo's `mjModel` (shared, read-only) and `mjData` (one per member).

use std::ffi::{CString, c_char, c_void};
use std::ptr::NonNull;
use std::sync::Arc;

use super::ffi::{Library, MujocoError, library};
use super::layout as l;

/// A compiled MuJoCo model, shared read-only by every member's [`Data`].
pub struct Model {
    lib: &'static Library,
    ptr: NonNull<c_void>,
    name: String,
    /// Number of generalised coordinates.
    pub nq: usize,
    /// Number of degrees of freedom.
    pub nv: usize,
    /// Number of actuators (the action dimension).
    pub nu: usize,
    /// Number of bodies (the world is body 0).
    pub nbody: usize,
    /// Number of geoms.
    pub ngeom: usize,
    /// Number of sites.
    pub nsite: usize,
    /// The physics time step in seconds.
    pub timestep: f64,
    /// Whether any two geoms can ever touch. Where none can (no geom's `contype` shares a bit
    /// with any geom's `conaffinity`, no explicit pairs, no flexes), loading sets
    /// `mjDSBL_CONTACT`: `ncon` is 0 either way, so nothing else changes (the parity files pass
    /// bit for bit), and the collision pass that found nothing is skipped — four times a step
    /// under RK4 (Reacher).
    pub contacts: bool,
}

// SAFETY: an mjModel is written only while it is loaded (its contact flag), never after;
// MuJoCo documents it as safe to share between threads that each own their mjData.
unsafe impl Send for Model {}
// SAFETY: as above, all access through &Model is read-only.
unsafe impl Sync for Model {}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("nq", &self.nq)
            .field("nv", &self.nv)
            .field("nu", &self.nu)
            .finish()
    }
}

/// Read an integer size field of width `bytes` (mjtSize is 8 bytes in 4.0.1).
///
/// # Safety
/// `base + off` must hold an initialised integer of that width.
unsafe fn read_size(base: *const u8, off: usize, bytes: usize) -> usize {
    // SAFETY: per the contract.
    unsafe {
        match bytes {
            8 => (base.add(off) as *const i64).read_unaligned().max(0) as usize,
            _ => (base.add(off) as *const i32).read_unaligned().max(0) as usize,
        }
    }
}

impl Model {
    /// Compile MJCF `xml` (given the file `name` for messages) with the process's library.
    pub fn from_xml(name: &str, xml: &str) -> Result<Arc<Model>, MujocoError> {
        let lib = library()?;
        let model_err = |reason: String| MujocoError::Model {
            name: name.to_string(),
            reason,
        };
        let file = CString::new("model.xml").expect("no NUL");
        let len =
            i32::try_from(xml.len()).map_err(|_| model_err("the XML is over 2 GiB".into()))?;
        let mut vfs: *mut c_void = std::ptr::null_mut();
        let vfs_ptr = &mut vfs as *mut *mut c_void as *mut c_void;
        let mut err = vec![0 as c_char; 1000];
        // SAFETY: mjVFS is one pointer (mjmodel.h); the buffer outlives the calls; the VFS is
        // deleted before returning.
        let ptr = unsafe {
            (lib.default_vfs)(vfs_ptr);
            let added =
                (lib.add_buffer_vfs)(vfs_ptr, file.as_ptr(), xml.as_ptr() as *const c_void, len);
            let m = if added == 0 {
                (lib.load_xml)(file.as_ptr(), vfs_ptr, err.as_mut_ptr(), err.len() as i32)
            } else {
                std::ptr::null_mut()
            };
            (lib.delete_vfs)(vfs_ptr);
            m
        };
        let Some(ptr) = NonNull::new(ptr) else {
            // SAFETY: MuJoCo NUL-terminates the error buffer.
            let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }
                .to_string_lossy()
                .trim()
                .to_string();
            return Err(model_err(if msg.is_empty() {
                "the model could not be added to MuJoCo's virtual file system".into()
            } else {
                msg
            }));
        };
        let base = ptr.as_ptr() as *const u8;
        // SAFETY: the offsets are those of the checked library version.
        let mut model = unsafe {
            Model {
                lib,
                ptr,
                name: name.to_string(),
                nq: read_size(base, l::MODEL_NQ, l::MODEL_NQ_BYTES),
                nv: read_size(base, l::MODEL_NV, l::MODEL_NV_BYTES),
                nu: read_size(base, l::MODEL_NU, l::MODEL_NU_BYTES),
                nbody: read_size(base, l::MODEL_NBODY, l::MODEL_NBODY_BYTES),
                ngeom: read_size(base, l::MODEL_NGEOM, l::MODEL_NGEOM_BYTES),
                nsite: read_size(base, l::MODEL_NSITE, l::MODEL_NSITE_BYTES),
                timestep: (base.add(l::MODEL_TIMESTEP) as *const f64).read_unaligned(),
                contacts: true,
            }
        };
        let bits = |off| {
            model
                .array::<i32>(off, model.ngeom)
                .iter()
                .fold(0, |a, &b| a | b)
        };
        // SAFETY: as above; the model is not shared yet.
        let (npair, nflex) = unsafe {
            (
                read_size(base, l::MODEL_NPAIR, l::MODEL_NPAIR_BYTES),
                read_size(base, l::MODEL_NFLEX, l::MODEL_NFLEX_BYTES),
            )
        };
        let contacts = npair > 0
            || nflex > 0
            || bits(l::MODEL_GEOM_CONTYPE) & bits(l::MODEL_GEOM_CONAFFINITY) != 0;
        if !contacts {
            // SAFETY: `opt.disableflags` is an int at this offset; nothing else holds the model.
            unsafe {
                let flags = (ptr.as_ptr() as *mut u8).add(l::MODEL_DISABLEFLAGS) as *mut i32;
                flags.write_unaligned(flags.read_unaligned() | l::MJ_DSBL_CONTACT);
            }
        }
        model.contacts = contacts;
        Ok(Arc::new(model))
    }

    /// The model's name (its MJCF file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn array<T>(&self, off: usize, len: usize) -> &[T] {
        // SAFETY: `off` is the offset of a pointer field of mjModel whose array has `len`
        // elements of T (the sizes come from the same model); the model is never written.
        unsafe {
            let p = (self.ptr.as_ptr() as *const u8).add(off) as *const *const T;
            if len == 0 {
                return &[];
            }
            std::slice::from_raw_parts(p.read_unaligned(), len)
        }
    }

    /// `qpos0`: the reference configuration (Gymnasium's `init_qpos`).
    pub fn qpos0(&self) -> &[f64] {
        self.array(l::MODEL_QPOS0, self.nq)
    }
    /// `body_mass`, one per body.
    pub fn body_mass(&self) -> &[f64] {
        self.array(l::MODEL_BODY_MASS, self.nbody)
    }
    /// `body_parentid`, one per body.
    pub fn body_parent(&self) -> &[i32] {
        self.array(l::MODEL_BODY_PARENTID, self.nbody)
    }
    /// `actuator_ctrlrange`, `nu × 2` (low, high).
    pub fn ctrl_range(&self) -> &[f64] {
        self.array(l::MODEL_ACTUATOR_CTRLRANGE, self.nu * 2)
    }
    /// `geom_type` (mjtGeom), one per geom.
    pub fn geom_type(&self) -> &[i32] {
        self.array(l::MODEL_GEOM_TYPE, self.ngeom)
    }
    /// `geom_bodyid`, one per geom.
    pub fn geom_body(&self) -> &[i32] {
        self.array(l::MODEL_GEOM_BODYID, self.ngeom)
    }
    /// `geom_size`, `ngeom × 3`.
    pub fn geom_size(&self) -> &[f64] {
        self.array(l::MODEL_GEOM_SIZE, self.ngeom * 3)
    }
    /// `geom_rgba`, `ngeom × 4`.
    pub fn geom_rgba(&self) -> &[f32] {
        self.array(l::MODEL_GEOM_RGBA, self.ngeom * 4)
    }

    fn id(&self, kind: i32, name: &str) -> Option<usize> {
        let c = CString::new(name).ok()?;
        // SAFETY: a valid model and a NUL-terminated name.
        let id = unsafe { (self.lib.name2id)(self.ptr.as_ptr(), kind, c.as_ptr()) };
        usize::try_from(id).ok()
    }
    /// The id of the body called `name`.
    pub fn body_id(&self, name: &str) -> Option<usize> {
        self.id(l::MJ_OBJ_BODY, name)
    }
    /// The id of the site called `name`.
    pub fn site_id(&self, name: &str) -> Option<usize> {
        self.id(l::MJ_OBJ_SITE, name)
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: every Data holds an Arc<Model>, so none is alive here.
        unsafe { (self.lib.delete_model)(self.ptr.as_ptr()) }
    }
}

/// One simulation state (`mjData`) of a shared [`Model`].
pub struct Data {
    model: Arc<Model>,
    ptr: NonNull<c_void>,
}

// SAFETY: an mjData is owned by one Data and only touched through &mut self or &self.
unsafe impl Send for Data {}
// SAFETY: &Data only reads.
unsafe impl Sync for Data {}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data")
            .field("model", &self.model.name)
            .finish()
    }
}

impl Clone for Data {
    /// A complete copy (`mj_copyData`): the copy steps exactly as the original would.
    fn clone(&self) -> Self {
        let d = Data::new(&self.model);
        // SAFETY: both were made for the same model.
        unsafe {
            (self.model.lib.copy_data)(d.ptr.as_ptr(), self.model.ptr.as_ptr(), self.ptr.as_ptr());
        }
        d
    }
}

macro_rules! data_array {
    ($(#[$doc:meta])* $get:ident, $set:ident, $off:ident, |$m:ident| $len:expr) => {
        $(#[$doc])*
        pub fn $get(&self) -> &[f64] {
            let $m = &*self.model;
            self.array(l::$off, $len)
        }
        $(#[$doc])*
        pub fn $set(&mut self) -> &mut [f64] {
            let $m = &*self.model;
            let len = $len;
            self.array_mut(l::$off, len)
        }
    };
    ($(#[$doc:meta])* $get:ident, $off:ident, |$m:ident| $len:expr) => {
        $(#[$doc])*
        pub fn $get(&self) -> &[f64] {
            let $m = &*self.model;
            self.array(l::$off, $len)
        }
    };
}

impl Data {
    /// A fresh `mjData` for `model` (MuJoCo's `mj_makeData`).
    pub fn new(model: &Arc<Model>) -> Data {
        // SAFETY: a valid model.
        let ptr = unsafe { (model.lib.make_data)(model.ptr.as_ptr()) };
        let ptr = NonNull::new(ptr).expect("mj_makeData: out of memory");
        Data {
            model: Arc::clone(model),
            ptr,
        }
    }

    /// The model.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    fn array(&self, off: usize, len: usize) -> &[f64] {
        if len == 0 {
            return &[];
        }
        // SAFETY: `off` is the offset of an mjtNum pointer field of mjData whose array has
        // `len` elements for this model.
        unsafe {
            let p = (self.ptr.as_ptr() as *const u8).add(off) as *const *const f64;
            std::slice::from_raw_parts(p.read_unaligned(), len)
        }
    }

    fn array_mut(&mut self, off: usize, len: usize) -> &mut [f64] {
        if len == 0 {
            return &mut [];
        }
        // SAFETY: as `array`, and &mut self gives exclusive access.
        unsafe {
            let p = (self.ptr.as_ptr() as *const u8).add(off) as *const *mut f64;
            std::slice::from_raw_parts_mut(p.read_unaligned(), len)
        }
    }

    data_array!(
        /// Generalised positions, `nq`.
        qpos, qpos_mut, DATA_QPOS, |m| m.nq);
    data_array!(
        /// Generalised velocities, `nv`.
        qvel, qvel_mut, DATA_QVEL, |m| m.nv);
    data_array!(
        /// Controls, `nu`.
        ctrl, ctrl_mut, DATA_CTRL, |m| m.nu);
    data_array!(
        /// Body frame positions, `nbody × 3`.
        xpos, DATA_XPOS, |m| m.nbody * 3);
    data_array!(
        /// Body centre-of-mass positions, `nbody × 3`.
        xipos, DATA_XIPOS, |m| m.nbody * 3);
    data_array!(
        /// Body orientations, `nbody × 9`.
        xmat, DATA_XMAT, |m| m.nbody * 9);
    data_array!(
        /// Geom positions, `ngeom × 3`.
        geom_xpos, DATA_GEOM_XPOS, |m| m.ngeom * 3);
    data_array!(
        /// Geom orientations, `ngeom × 9`.
        geom_xmat, DATA_GEOM_XMAT, |m| m.ngeom * 9);
    data_array!(
        /// Site positions, `nsite × 3`.
        site_xpos, DATA_SITE_XPOS, |m| m.nsite * 3);
    data_array!(
        /// Com-based body inertias, `nbody × 10`.
        cinert, DATA_CINERT, |m| m.nbody * 10);
    data_array!(
        /// Com-based body velocities, `nbody × 6`.
        cvel, DATA_CVEL, |m| m.nbody * 6);
    data_array!(
        /// External contact forces per body, `nbody × 6` (after `mj_rnePostConstraint`).
        cfrc_ext, DATA_CFRC_EXT, |m| m.nbody * 6);
    data_array!(
        /// Actuator forces in joint space, `nv`.
        qfrc_actuator, DATA_QFRC_ACTUATOR, |m| m.nv);
    data_array!(
        /// Constraint forces in joint space, `nv`.
        qfrc_constraint, DATA_QFRC_CONSTRAINT, |m| m.nv);

    /// Simulation time.
    pub fn time(&self) -> f64 {
        // SAFETY: `time` is an mjtNum field at this offset.
        unsafe { ((self.ptr.as_ptr() as *const u8).add(l::DATA_TIME) as *const f64).read() }
    }

    /// `mj_resetData`: back to the model's defaults.
    pub fn reset(&mut self) {
        // SAFETY: valid model and data.
        unsafe { (self.model.lib.reset_data)(self.model.ptr.as_ptr(), self.ptr.as_ptr()) }
    }
    /// `mj_forward`: recompute everything derived from the state.
    pub fn forward(&mut self) {
        // SAFETY: valid model and data.
        unsafe { (self.model.lib.forward)(self.model.ptr.as_ptr(), self.ptr.as_ptr()) }
    }
    /// `mj_step`, `n` times.
    pub fn step(&mut self, n: usize) {
        for _ in 0..n {
            // SAFETY: valid model and data.
            unsafe { (self.model.lib.step)(self.model.ptr.as_ptr(), self.ptr.as_ptr()) }
        }
    }
    /// `mj_rnePostConstraint`: fills `cacc`, `cfrc_int` and `cfrc_ext`.
    pub fn rne_post_constraint(&mut self) {
        // SAFETY: valid model and data.
        unsafe { (self.model.lib.rne_post_constraint)(self.model.ptr.as_ptr(), self.ptr.as_ptr()) }
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: owned pointer from mj_makeData.
        unsafe { (self.model.lib.delete_data)(self.ptr.as_ptr()) }
    }
}
