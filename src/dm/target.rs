// SPDX-License-Identifier: GPL-2.0
//! `struct target_type` as the [`TargetOps`] trait.
//!
//! Modelled on `kernel::block::mq::Operations`: a `#[vtable]` trait with safe
//! methods, and private `unsafe extern "C"` trampolines that turn DM's raw
//! pointers into [`Target`], [`Bio`] and friends before calling it.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::num::NonZeroI32;
use core::ptr::NonNull;

use kernel::error::VTABLE_DEFAULT_ERROR;
use kernel::ffi::{c_char, c_int, c_uint};
use kernel::prelude::*;
use kernel::types::Opaque;

use super::bio::{Deferred, EndBio, Kept, Passed, Readdressed};
use super::instance::Instance;
use super::per_bio::PerBioLayout;
use super::{bindings, Bio, BlkStatus, DmDev, Emitter, MapBio, QueueLimits};

/// What `map` did with the bio it was given for `'a`. Each variant holds a
/// proof that only that bio gives, once: [`MapBio::remapped`] or
/// [`MapBio::keep`], both of which consume it.
pub(crate) enum MapOutcome<'a> {
    /// The bio was readdressed; DM submits it.
    Remapped(Readdressed<'a>),
    /// The target kept the bio and submits or completes it later.
    Submitted(Kept<'a>),
}

impl MapOutcome<'_> {
    fn into_c(self) -> c_int {
        let v = match self {
            Self::Remapped(_) => bindings::DM_MAPIO_REMAPPED,
            Self::Submitted(_) => bindings::DM_MAPIO_SUBMITTED,
        };
        // The DM_MAPIO_* values are small constants.
        v as c_int
    }
}

/// What `end_io` decided about the completion it was given for `'a`. Each
/// variant holds a proof that only that bio gives, once: [`EndBio::done`]
/// or [`EndBio::defer`], both of which consume it.
pub(crate) enum EndIoOutcome<'a> {
    /// Let the completion through as it is.
    Done(Passed<'a>),
    /// The target took the bio over and completes it later; `end_io` then
    /// runs again for that completion.
    Incomplete(Deferred<'a>),
}

impl EndIoOutcome<'_> {
    fn into_c(self) -> c_int {
        let v = match self {
            Self::Done(_) => bindings::DM_ENDIO_DONE,
            Self::Incomplete(_) => bindings::DM_ENDIO_INCOMPLETE,
        };
        // The DM_ENDIO_* values are small constants.
        v as c_int
    }
}

/// Why an `iterate_devices` walk stopped early: the non-zero result of DM's
/// callout (an errno, or a yes/no answer of one of DM's device tests), which
/// the target passes back unchanged and cannot make up.
#[derive(Debug)]
pub(crate) struct IterStop(NonZeroI32);

/// Which status DM asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusKind {
    /// `dmsetup status`: the target's health and counters.
    Info,
    /// `dmsetup table`: the table line that recreates the target.
    Table,
    /// The measurement string for IMA.
    Ima,
}

/// A constructor's refusal: the errno, and the message DM reports for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CtrError {
    pub(crate) errno: Error,
    pub(crate) message: &'static core::ffi::CStr,
}

impl CtrError {
    /// A refusal with `errno` and `message`.
    pub(crate) fn new(errno: Error, message: &'static core::ffi::CStr) -> Self {
        Self { errno, message }
    }
}

impl From<kernel::alloc::AllocError> for CtrError {
    fn from(_: kernel::alloc::AllocError) -> Self {
        Self::new(ENOMEM, c"Cannot allocate target context")
    }
}

impl From<core::convert::Infallible> for CtrError {
    fn from(e: core::convert::Infallible) -> Self {
        match e {}
    }
}

/// One instance of the target type `T` (a `struct dm_target`).
///
/// # Invariants
///
/// Wraps a live `dm_target` of the type that `Registration<T>` registered,
/// which DM passed to one of that type's callbacks (or the worker's run);
/// borrows last no longer than that callback. Its `private` is null inside
/// the constructor, then the pinned `KBox<Instance<T>>` the constructor
/// built, until the destructor clears it (null again) and drops the
/// instance; the destructor runs after every other callback has returned,
/// and the destructor ends the sysfs directory's reads and the worker's runs
/// (`Instance::teardown`) before it clears `private` and drops the target. A `&mut Target<T>` is only handed out by the
/// constructor trampoline, before DM shares the target with other
/// callbacks.
#[repr(transparent)]
pub(crate) struct Target<T: TargetOps>(Opaque<bindings::dm_target>, PhantomData<T>);

impl<T: TargetOps> Target<T> {
    /// # Safety
    ///
    /// `ptr` must point to a live `dm_target` of the type `Registration<T>`
    /// registered, inside one of its callbacks (or a run of its worker)
    /// that lasts for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::dm_target) -> &'a Self {
        // SAFETY: `repr(transparent)` over the C struct (the `PhantomData` has
        // no size); validity for `'a` is the caller's contract.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(super) fn raw(&self) -> *mut bindings::dm_target {
        self.0.get()
    }

    /// The constructed instance, or `None` inside the constructor.
    pub(super) fn instance(&self) -> Option<&Instance<T>> {
        // SAFETY: the target is live (type invariants); only the constructor
        // trampoline, which holds the one `&mut Target<T>`, and the
        // destructor, after every other callback, write `private`.
        let private = unsafe { (*self.raw()).private };
        // SAFETY: a non-null `private` is the constructed instance (type
        // invariants), which lives until the destructor, after this borrow.
        unsafe { private.cast::<Instance<T>>().cast_const().as_ref() }
    }

    /// First sector of the target in the mapped device.
    pub(crate) fn begin(&self) -> u64 {
        // SAFETY: the target is live (type invariants); `begin` is fixed once
        // the table is loaded.
        unsafe { (*self.raw()).begin }
    }

    /// Length of the target in sectors.
    pub(crate) fn len(&self) -> u64 {
        // SAFETY: as in `begin`.
        unsafe { (*self.raw()).len }
    }

    /// Opens `path` for this target, in the table's mode.
    pub(crate) fn open_device(&mut self, path: &CStr) -> Result<DmDev> {
        let ti = NonNull::new(self.raw()).ok_or(EINVAL)?;
        // SAFETY: `&mut Target` only exists inside the constructor (type
        // invariants), and the trampolines drop what the constructor returns
        // before the target is destroyed.
        unsafe { DmDev::open(ti, path) }
    }

    /// Runs the target's worker ([`TargetOps::run_work`]) soon, unless it
    /// is queued already. Any context; does nothing inside the constructor.
    pub(crate) fn queue_work(&self) {
        if let Some(instance) = self.instance() {
            instance.worker().queue();
        }
    }

    /// Waits until the worker's queued runs have finished. Process
    /// context, not from a run of the worker.
    pub(crate) fn flush_work(&self) {
        if let Some(instance) = self.instance() {
            instance.worker().flush();
        }
    }

    /// Removes the target's sysfs directory, if it is published; waits for
    /// running reads and writes of its attributes. Process context.
    pub(crate) fn remove_sysfs(&self) {
        if let Some(instance) = self.instance() {
            instance.sysfs().remove();
        }
    }

    /// Signals a state change to userspace (`dmsetup wait`, udev).
    pub(crate) fn table_event(&self) {
        // SAFETY: the target is live (type invariants) and so is its table.
        unsafe { bindings::dm_remap_table_event(self.raw()) };
    }

    /// How many copies of each flush, discard and write-zeroes bio DM sends
    /// to `map` (told apart by [`Bio::target_bio_nr`]).
    pub(crate) fn set_special_bio_counts(&mut self, flush: u32, discard: u32, write_zeroes: u32) {
        // SAFETY: we are inside the constructor (type invariants), so nothing
        // else reads these fields yet.
        unsafe {
            (*self.raw()).num_flush_bios = flush;
            (*self.raw()).num_discard_bios = discard;
            (*self.raw()).num_write_zeroes_bios = write_zeroes;
        }
    }

    fn set_error(&mut self, message: &'static core::ffi::CStr) {
        // SAFETY: inside the constructor (type invariants). DM only reads the
        // string, and a `'static` one outlives every such read.
        unsafe { (*self.raw()).error = message.as_ptr().cast_mut().cast::<c_char>() };
    }
}

/// The callbacks of a device-mapper target type.
#[vtable]
pub(crate) trait TargetOps: Sized + Send + Sync {
    /// Target type name used in table lines.
    const NAME: &'static CStr;
    /// Target version, shown by `dmsetup targets`.
    const VERSION: [u32; 3];
    /// Data DM keeps beside every bio for the target, from `map` to `end_io`.
    /// Its size must be a multiple of 8 and its alignment at most 8.
    type PerBio: Default;

    /// Builds an instance from the table line's arguments: the checks and
    /// I/O that may refuse the table, then an initializer that builds the
    /// target in place (pinned, beside its worker and sysfs slot).
    fn ctr(target: &mut Target<Self>, args: &[&CStr]) -> Result<impl PinInit<Self, CtrError>, CtrError>;

    /// Routes one bio. Runs in the I/O path: must not sleep. The bio's
    /// per-bio data is written by the way `map` lets it go
    /// ([`MapBio::remapped`] or [`MapBio::keep`]), once.
    fn map<'a>(&self, target: &Target<Self>, bio: MapBio<'a, Self>) -> MapOutcome<'a>;

    /// Sees every completion of a bio that `map` remapped, with its status.
    fn end_io<'a>(
        &self,
        _target: &Target<Self>,
        _bio: EndBio<'a, Self>,
        _per_bio: &mut Self::PerBio,
        _status: BlkStatus,
    ) -> EndIoOutcome<'a> {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Writes the INFO, TABLE or IMA status.
    fn status(&self, _target: &Target<Self>, _kind: StatusKind, _out: &mut Emitter<'_>) {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Handles `dmsetup message`; `Ok(true)` means `out` holds a result.
    fn message(&self, _target: &Target<Self>, _args: &[&CStr], _out: &mut Emitter<'_>) -> Result<bool> {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Calls `visit(device, start, len)` for each underlying device range,
    /// stopping at (and returning, with `?`) the first `Err`.
    fn iterate_devices(
        &self,
        _visit: &mut dyn FnMut(&DmDev, u64, u64) -> Result<(), IterStop>,
    ) -> Result<(), IterStop> {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Adjusts the table's queue limits.
    fn io_hints(&self, _limits: &mut QueueLimits) {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Called before the device suspends (I/O may still be in flight).
    fn presuspend(&self, _target: &Target<Self>) {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Called once the device is suspended and idle.
    fn postsuspend(&self, _target: &Target<Self>) {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Called when a suspend fails after `presuspend`: the device stays
    /// active.
    fn presuspend_undo(&self, _target: &Target<Self>) {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// The destructor's first step once the sysfs directory is gone: stop
    /// whatever would keep the worker busy or queue it again (the worker is
    /// then shut down, waiting for the run in progress, and the target
    /// dropped). A device removed while suspended gets no `presuspend`
    /// first.
    fn stop_work(&self) {}

    /// What the worker runs (process context, may sleep). A target without
    /// it has no workqueue, and [`Target::queue_work`] does nothing.
    fn run_work(&self, _target: &Target<Self>) {}

    /// Called before the device resumes (after a table swap, before the new
    /// table's first I/O); an error fails the resume.
    fn preresume(&self, _target: &Target<Self>) -> Result {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Called when the device resumes.
    fn resume(&self, _target: &Target<Self>) {
        kernel::build_error(VTABLE_DEFAULT_ERROR)
    }
}

/// A registered target type; unregistered on drop.
///
/// # Invariants
///
/// `tt` was registered with `dm_register_target` and stays pinned (DM links
/// it into its list of types) until `drop` unregisters it.
pub(crate) struct Registration<T: TargetOps> {
    tt: Pin<KBox<Opaque<bindings::target_type>>>,
    _ops: PhantomData<T>,
}

// SAFETY: the registration is only touched at module init and exit.
unsafe impl<T: TargetOps> Send for Registration<T> {}
// SAFETY: `&Registration` exposes nothing.
unsafe impl<T: TargetOps> Sync for Registration<T> {}

impl<T: TargetOps> Registration<T> {
    /// Registers `T` as a target type owned by `module`, so that DM holds a
    /// reference on the module while any device uses the type.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let tt = bindings::target_type {
            name: T::NAME.as_char_ptr(),
            module: module.as_ptr(),
            version: T::VERSION,
            ctr: Some(ctr::<T>),
            dtr: Some(dtr::<T>),
            map: Some(map::<T>),
            end_io: if T::HAS_END_IO { Some(end_io::<T>) } else { None },
            status: if T::HAS_STATUS { Some(status::<T>) } else { None },
            message: if T::HAS_MESSAGE { Some(message::<T>) } else { None },
            iterate_devices: if T::HAS_ITERATE_DEVICES { Some(iterate_devices::<T>) } else { None },
            io_hints: if T::HAS_IO_HINTS { Some(io_hints::<T>) } else { None },
            presuspend: if T::HAS_PRESUSPEND { Some(presuspend::<T>) } else { None },
            postsuspend: if T::HAS_POSTSUSPEND { Some(postsuspend::<T>) } else { None },
            presuspend_undo: if T::HAS_PRESUSPEND_UNDO { Some(presuspend_undo::<T>) } else { None },
            preresume: if T::HAS_PRERESUME { Some(preresume::<T>) } else { None },
            resume: if T::HAS_RESUME { Some(resume::<T>) } else { None },
            ..Default::default()
        };
        let tt = KBox::pin(Opaque::new(tt), GFP_KERNEL)?;
        // Before any clone can reach `map`.
        super::per_bio::calibrate()?;
        // SAFETY: `tt` is a fully initialised target type, pinned on the heap
        // for as long as it stays registered (dropped only after unregister).
        kernel::error::to_result(unsafe { bindings::dm_register_target(tt.get()) })?;
        // INVARIANT: registered just above, and pinned.
        Ok(Self { tt, _ops: PhantomData })
    }
}

impl<T: TargetOps> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered by `new` (type invariants). DM refuses module
        // unload while devices use the type, so none remain.
        unsafe { bindings::dm_unregister_target(self.tt.get()) };
    }
}

/// The target in the instance behind `ti->private`.
///
/// # Safety
///
/// `ti` must be live, and its constructor must have succeeded (so `private`
/// holds an `Instance<T>` that `dtr` has not yet freed) for `'a`.
unsafe fn instance<'a, T: TargetOps>(ti: *mut bindings::dm_target) -> &'a T {
    // SAFETY: the caller's contract; `ctr` stored a pinned
    // `KBox<Instance<T>>` there.
    unsafe { (*(*ti).private.cast::<Instance<T>>()).inner() }
}

/// Collects `argv[0..argc]` as C strings.
///
/// # Safety
///
/// `argv` must hold `argc` NUL-terminated strings that live for `'a`.
unsafe fn collect_args<'a>(argc: c_uint, argv: *mut *mut c_char) -> Result<KVec<&'a CStr>> {
    let n = usize::try_from(argc).map_err(|_| EINVAL)?;
    let mut args = KVec::with_capacity(n, GFP_KERNEL)?;
    for i in 0..n {
        // SAFETY: `i < argc`, and each entry is a valid C string for `'a`
        // (the caller's contract).
        let arg = unsafe { CStr::from_char_ptr(*argv.add(i)) };
        args.push(arg, GFP_KERNEL)?;
    }
    Ok(args)
}

/// Wraps a `(result, maxlen)` buffer from DM.
///
/// # Safety
///
/// `result` must be valid for writes of `maxlen` bytes for `'a`.
unsafe fn emitter<'a>(result: *mut c_char, maxlen: c_uint) -> Emitter<'a> {
    let len = usize::try_from(maxlen).unwrap_or(0);
    if result.is_null() || len == 0 {
        return Emitter::new(&mut []);
    }
    // SAFETY: the caller's contract.
    Emitter::new(unsafe { core::slice::from_raw_parts_mut(result.cast::<u8>(), len) })
}

/// # Safety
///
/// Called by DM only, with a target being constructed and its arguments.
unsafe extern "C" fn ctr<T: TargetOps>(ti: *mut bindings::dm_target, argc: c_uint, argv: *mut *mut c_char) -> c_int {
    // SAFETY: DM passes a live target being constructed; no other callback
    // sees it until this returns, so the `&mut` is exclusive.
    let target = unsafe { &mut *ti.cast::<Target<T>>() };
    // SAFETY: DM passes `argc` argument strings that outlive the constructor.
    let args = match unsafe { collect_args(argc, argv) } {
        Ok(args) => args,
        Err(e) => {
            target.set_error(c"Cannot allocate argument list");
            return e.to_errno();
        }
    };
    let Some(ti_ptr) = NonNull::new(ti) else { return EINVAL.to_errno() };
    // The instance is built in place: sysfs slot, worker, then the target;
    // if a later step fails, the earlier ones drop (the workqueue too).
    let instance = T::ctr(target, &args).and_then(|init| KBox::try_pin_init(Instance::new(ti_ptr, init), GFP_KERNEL));
    match instance {
        Ok(b) => {
            // SAFETY: still inside the constructor; `dtr` reclaims the box,
            // and never moves the instance out of it (the box stays pinned
            // until it drops). DM sizes every bio's per-bio data by
            // `per_io_data_size`.
            unsafe {
                (*ti).private = KBox::into_raw(Pin::into_inner_unchecked(b)).cast::<c_void>();
                (*ti).per_io_data_size = PerBioLayout::<T>::SIZE;
            }
            0
        }
        Err(e) => {
            target.set_error(e.message);
            e.errno.to_errno()
        }
    }
}

/// # Safety
///
/// Called by DM only, once, for a target whose constructor succeeded.
unsafe extern "C" fn dtr<T: TargetOps>(ti: *mut bindings::dm_target) {
    // SAFETY: the target is live; `ctr` stored a pinned `KBox<Instance<T>>`
    // (from `KBox::into_raw`) in `private`, and DM calls the destructor
    // once, after every other callback has finished.
    let instance = unsafe { (*ti).private }.cast::<Instance<T>>();
    // First, while `private` still finds it, everything that may use the
    // instance ends (see `Instance::teardown`): the sysfs directory's reads
    // and writes, the target's work, the worker's runs (one in progress may
    // complete bios, whose end_io looks the instance up).
    // SAFETY: `instance` is live until the box below drops; shared borrow.
    unsafe { &*instance }.teardown();
    // SAFETY: nothing reads `private` any more (no callback, no directory,
    // no run of the worker); the box is dropped where it is, not moved.
    unsafe {
        (*ti).private = core::ptr::null_mut();
        drop(KBox::from_raw(instance));
    }
}

/// # Safety
///
/// Called by DM only, with a constructed target and a bio it owns.
unsafe extern "C" fn map<T: TargetOps>(ti: *mut bindings::dm_target, bio: *mut bindings::bio) -> c_int {
    // SAFETY: DM calls `map` on a constructed, live target, with a clone that
    // the target owns until it returns it or completes it.
    let (this, target, bio) = unsafe { (instance::<T>(ti), Target::<T>::from_raw(ti), Bio::from_raw(bio)) };
    // SAFETY: a clone for this `T` target, whose per-bio data (not yet
    // initialised) nothing else uses.
    let bio = unsafe { MapBio::new(bio) };
    this.map(target, bio).into_c()
}

/// # Safety
///
/// Called by DM only, with a constructed target, a bio it mapped, and that
/// bio's completion status.
unsafe extern "C" fn end_io<T: TargetOps>(
    ti: *mut bindings::dm_target,
    bio: *mut bindings::bio,
    error: *mut bindings::blk_status_t,
) -> c_int {
    // SAFETY: DM passes a live, constructed target, the completing clone (ours
    // until this returns, its per-bio data initialised by `map`) and a valid
    // pointer to its status.
    let (this, target, per_bio, bio, status) = unsafe {
        let per_bio = &mut *PerBioLayout::<T>::get(bio);
        (instance::<T>(ti), Target::<T>::from_raw(ti), per_bio, Bio::from_raw(bio), BlkStatus::from_raw(*error))
    };
    // SAFETY: a clone for this `T` target, which `map` saw.
    let bio = unsafe { EndBio::new(bio) };
    this.end_io(target, bio, per_bio, status).into_c()
}

/// # Safety
///
/// Called by DM only, with a constructed target and a result buffer.
unsafe extern "C" fn status<T: TargetOps>(
    ti: *mut bindings::dm_target,
    kind: bindings::status_type_t,
    _flags: c_uint,
    result: *mut c_char,
    maxlen: c_uint,
) {
    let kind = match kind {
        bindings::status_type_t_STATUSTYPE_INFO => StatusKind::Info,
        bindings::status_type_t_STATUSTYPE_TABLE => StatusKind::Table,
        _ => StatusKind::Ima,
    };
    // SAFETY: DM passes a live, constructed target and a buffer of `maxlen`
    // bytes for the duration of the call.
    let (this, target, mut out) = unsafe { (instance::<T>(ti), Target::<T>::from_raw(ti), emitter(result, maxlen)) };
    this.status(target, kind, &mut out);
}

/// # Safety
///
/// Called by DM only, with a constructed target, the message words and a
/// result buffer.
unsafe extern "C" fn message<T: TargetOps>(
    ti: *mut bindings::dm_target,
    argc: c_uint,
    argv: *mut *mut c_char,
    result: *mut c_char,
    maxlen: c_uint,
) -> c_int {
    // SAFETY: DM passes a live, constructed target, `argc` strings and a
    // buffer of `maxlen` bytes, all valid for the duration of the call.
    let (this, target, mut out) = unsafe { (instance::<T>(ti), Target::<T>::from_raw(ti), emitter(result, maxlen)) };
    // SAFETY: as above.
    let args = match unsafe { collect_args(argc, argv) } {
        Ok(args) => args,
        Err(e) => return e.to_errno(),
    };
    match this.message(target, &args, &mut out) {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by DM only, with a constructed target and its callout.
unsafe extern "C" fn iterate_devices<T: TargetOps>(
    ti: *mut bindings::dm_target,
    callout: bindings::iterate_devices_callout_fn,
    data: *mut c_void,
) -> c_int {
    let Some(callout) = callout else { return 0 };
    // SAFETY: DM passes a live, constructed target.
    let this = unsafe { instance::<T>(ti) };
    let walk = this.iterate_devices(&mut |dev, start, len| {
        // SAFETY: `callout` and `data` come from DM for this call, `ti` is live
        // and `dev` is an open device (the `DmDev` invariants).
        match NonZeroI32::new(unsafe { callout(ti, dev.as_raw(), start, len, data) }) {
            None => Ok(()),
            Some(stop) => Err(IterStop(stop)),
        }
    });
    match walk {
        Ok(()) => 0,
        Err(IterStop(stop)) => stop.get(),
    }
}

/// # Safety
///
/// Called by DM only, with a constructed target and the table's limits.
unsafe extern "C" fn io_hints<T: TargetOps>(ti: *mut bindings::dm_target, limits: *mut bindings::queue_limits) {
    // SAFETY: DM passes a live, constructed target and limits that are ours
    // for the call.
    let (this, limits) = unsafe { (instance::<T>(ti), QueueLimits::from_raw(limits)) };
    this.io_hints(limits);
}

macro_rules! lifecycle_trampoline {
    ($name:ident) => {
        /// # Safety
        ///
        /// Called by DM only, with a constructed target.
        unsafe extern "C" fn $name<T: TargetOps>(ti: *mut bindings::dm_target) {
            // SAFETY: DM passes a live, constructed target.
            let (this, target) = unsafe { (instance::<T>(ti), Target::<T>::from_raw(ti)) };
            this.$name(target);
        }
    };
}
/// # Safety
///
/// Called by DM only, with a constructed target.
unsafe extern "C" fn preresume<T: TargetOps>(ti: *mut bindings::dm_target) -> c_int {
    // SAFETY: DM passes a live, constructed target.
    let (this, target) = unsafe { (instance::<T>(ti), Target::<T>::from_raw(ti)) };
    match this.preresume(target) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

lifecycle_trampoline!(presuspend);
lifecycle_trampoline!(postsuspend);
lifecycle_trampoline!(presuspend_undo);
lifecycle_trampoline!(resume);
