!> Fortran 2008 bindings of libsimvue: Simvue's `Run` API over the C API (include/simvue.h).
!>
!> Two tiers, as in netcdf-fortran: the raw `bind(C)` interfaces are private; the public API is
!> the derived type `simvue_run`, whose type-bound procedures take ordinary `character(*)`
!> strings, `optional` arguments where Simvue's `Run` has optional ones, arrays of metric values,
!> and an optional trailing `stat` (and `errmsg`).
!>
!>     use simvue
!>     type(simvue_run) :: run
!>     call run%new(SIMVUE_MODE_OFFLINE)
!>     call run%init(name='my-run', tags=[character(8) :: 'heat', '1d'], folder='/my/folder')
!>     call run%log_metrics([character(8) :: 'residual', 't_max'], [1e-3_real64, 99.5_real64])
!>     call run%close()
!>     call run%free()
!>
!> Strings: trailing blanks are trimmed from every string argument (Fortran's fixed-length
!> strings and arrays of strings carry them), leading blanks are kept; only the data given to
!> `save_bytes` is passed as it is. So `'heat  '` is the tag `heat`, and a blank string is the
!> empty string (which the library refuses where a name is needed).
!>
!> Errors: with `stat` present, it receives the C result code (`SIMVUE_OK` = 0 on success) and
!> `errmsg`, if present, the message of a failure (it is left alone on success, like the
!> `errmsg=` of `allocate`). Without `stat`, a failure is handled as the run's
!> `suppress_errors` setting (`config`) says: on (the default) the library writes the message to
!> stderr (the first 20 of the run) and the program goes on; off, the message is written and the
!> program stops with `error stop`. A failure the library could not report through a run (a
!> variable that holds no run or a freed one; names and values of different sizes, which only
!> this module sees) is written here, and the program goes on.
module simvue
  use, intrinsic :: iso_c_binding, only: c_associated, c_char, c_double, c_f_pointer, &
       c_funloc, c_funptr, c_int, c_int32_t, c_int64_t, c_loc, c_null_char, c_null_funptr, &
       c_null_ptr, c_ptr, c_size_t
  use, intrinsic :: iso_fortran_env, only: error_unit, int32, int64, real32, real64
  implicit none
  private

  ! ------------------------------------------------------------------------------------------
  ! Constants of the C API (include/simvue.h).

  !> Run modes (`new`); the environment variable SIMVUE_MODE overrides them at run time.
  integer, parameter, public :: SIMVUE_MODE_ONLINE = 0, SIMVUE_MODE_OFFLINE = 1, &
       SIMVUE_MODE_DISABLED = 2
  !> Final statuses (`set_status`).
  integer, parameter, public :: SIMVUE_STATUS_COMPLETED = 0, SIMVUE_STATUS_FAILED = 1, &
       SIMVUE_STATUS_TERMINATED = 2
  !> Alert sources, rules and notifications (`add_alert`).
  integer, parameter, public :: SIMVUE_ALERT_SOURCE_METRICS = 0, SIMVUE_ALERT_SOURCE_EVENTS = 1
  integer, parameter, public :: SIMVUE_ALERT_RULE_IS_ABOVE = 0, SIMVUE_ALERT_RULE_IS_BELOW = 1, &
       SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE = 2, SIMVUE_ALERT_RULE_IS_INSIDE_RANGE = 3
  integer, parameter, public :: SIMVUE_NOTIFICATION_NONE = 0, SIMVUE_NOTIFICATION_EMAIL = 1
  !> Metrics alert aggregations and user alert states (`create_*_alert`, `log_alert`).
  integer, parameter, public :: SIMVUE_AGGREGATION_AVERAGE = 0, SIMVUE_AGGREGATION_SUM = 1, &
       SIMVUE_AGGREGATION_AT_LEAST_ONE = 2, SIMVUE_AGGREGATION_ALL = 3
  integer, parameter, public :: SIMVUE_ALERT_STATE_OK = 0, SIMVUE_ALERT_STATE_CRITICAL = 1
  !> Event levels (`log_event`).
  integer, parameter, public :: SIMVUE_LOG_DEBUG = 0, SIMVUE_LOG_INFO = 1, &
       SIMVUE_LOG_WARNING = 2, SIMVUE_LOG_ERROR = 3, SIMVUE_LOG_CRITICAL = 4
  !> Artifact categories (`save`, `save_directory`, `save_all`, `save_bytes`).
  integer, parameter, public :: SIMVUE_CATEGORY_INPUT = 0, SIMVUE_CATEGORY_OUTPUT = 1, &
       SIMVUE_CATEGORY_CODE = 2
  !> Run notifications, visibilities and "no heartbeat timeout" (`init`).
  integer, parameter, public :: SIMVUE_NOTIFY_NONE = 0, SIMVUE_NOTIFY_ALL = 1, &
       SIMVUE_NOTIFY_ERROR = 2, SIMVUE_NOTIFY_LOST = 3
  integer, parameter, public :: SIMVUE_VISIBILITY_PRIVATE = 0, SIMVUE_VISIBILITY_PUBLIC = 1, &
       SIMVUE_VISIBILITY_TENANT = 2, SIMVUE_VISIBILITY_USERS = 3
  integer, parameter, public :: SIMVUE_NO_TIMEOUT = 0
  !> What a run does when one of its signals arrives (`set_signals`).
  integer, parameter, public :: SIMVUE_SIGNALS_EXIT = 0, SIMVUE_SIGNALS_NOTIFY = 1
  !> Abort policies (`config(abort_on_alert=...)`).
  integer, parameter, public :: SIMVUE_ABORT_ON_ALERT_RUN = 0, &
       SIMVUE_ABORT_ON_ALERT_TERMINATE = 1, SIMVUE_ABORT_ON_ALERT_IGNORE = 2
  !> Size of a buffer that holds any run or alert id with its NUL.
  integer, parameter, public :: SIMVUE_ID_BUFFER_SIZE = 64
  !> Result codes, as `stat` receives them.
  integer, parameter, public :: SIMVUE_OK = 0, SIMVUE_ERROR_NULL_ARGUMENT = 1, &
       SIMVUE_ERROR_INVALID_UTF8 = 2, SIMVUE_ERROR_INVALID_ARGUMENT = 3, &
       SIMVUE_ERROR_UNKNOWN_ENUM = 4, SIMVUE_ERROR_CLOSED = 5, SIMVUE_ERROR_STATE = 6, &
       SIMVUE_ERROR_CONFIG = 7, SIMVUE_ERROR_IO = 8, SIMVUE_ERROR_BUFFER_TOO_SMALL = 9, &
       SIMVUE_ERROR_NOT_FOUND = 10, SIMVUE_ERROR_UNSUPPORTED = 11, &
       SIMVUE_ERROR_BACKGROUND = 12, SIMVUE_ERROR_INVALID_HANDLE = 13, &
       SIMVUE_ERROR_NETWORK = 14, SIMVUE_ERROR_SERVER = 15, SIMVUE_ERROR_AUTH = 16, &
       SIMVUE_ERROR_PANIC = 99

  integer(c_int32_t), parameter :: KEEP = -1
  ! uint32_t flags and uint64_t counts of the C API travel as the signed integers of the same
  ! size (Fortran has no unsigned integers); the values never reach the sign bit.
  integer(c_int32_t), parameter :: METRICS_STEP = 1, METRICS_TIME = 2
  integer(c_int32_t), parameter :: SAVE_SNAPSHOT = 1, SAVE_WAIT = 2
  integer(c_int32_t), parameter :: COLUMN_MAJOR = 1

  !> An optional array of strings as the C API takes it (`const char *const *` and a count):
  !> see `to_list`; the variable must have the TARGET attribute.
  type :: string_list
     character(kind=c_char), allocatable :: buf(:, :)
     type(c_ptr), allocatable :: ptrs(:)
     integer(c_size_t) :: n = 0
  end type string_list

  ! ------------------------------------------------------------------------------------------
  ! The public API.

  public :: simvue_version, simvue_result_name, simvue_last_error, simvue_last_error_message
  public :: simvue_abort_callback
  public :: simvue_signal_callback, simvue_close_open_runs, simvue_resources_sample

  !> A Simvue run. Create it with `new`, release it with `free` (a run never closed is closed
  !> with status `completed` at process exit). A copy of a `simvue_run` names the same run.
  type, public :: simvue_run
     private
     type(c_ptr) :: handle = c_null_ptr
   contains
     procedure :: new => run_new
     procedure :: free => run_free
     procedure :: config => run_config
     procedure :: init => run_init
     procedure :: name => run_name
     procedure :: id => run_id
     procedure :: set_pid => run_set_pid
     procedure :: reconnect => run_reconnect
     procedure :: update_metadata => run_update_metadata
     procedure, private :: set_metadata_str, set_metadata_i32, set_metadata_i64, &
          set_metadata_r32, set_metadata_r64, set_metadata_bool
     generic :: set_metadata => set_metadata_str, set_metadata_i32, set_metadata_i64, &
          set_metadata_r32, set_metadata_r64, set_metadata_bool
     procedure :: update_tags => run_update_tags
     procedure :: set_tags => run_set_tags
     procedure, private :: log_metrics_r64, log_metrics_r32, log_metric_r64, log_metric_r32
     procedure, private :: log_array_1d, log_array_2d, log_array_3d
     generic :: log_metrics => log_metrics_r64, log_metrics_r32, log_metric_r64, log_metric_r32, &
          log_array_1d, log_array_2d, log_array_3d
     procedure :: assign_metric_to_grid => run_assign_metric_to_grid
     generic :: log_metric => log_metric_r64, log_metric_r32
     procedure :: log_event => run_log_event
     procedure :: set_metric_units => run_set_metric_units
     procedure :: set_status => run_set_status
     procedure :: close => run_close
     procedure :: set_folder_details => run_set_folder_details
     procedure :: add_alert => run_add_alert
     procedure :: create_metric_threshold_alert => run_create_metric_threshold_alert
     procedure :: create_metric_range_alert => run_create_metric_range_alert
     procedure :: create_event_alert => run_create_event_alert
     procedure :: create_user_alert => run_create_user_alert
     procedure :: log_alert => run_log_alert
     procedure :: add_alerts => run_add_alerts
     procedure :: dropped => run_dropped
     procedure :: lost_items => run_lost_items
     procedure :: suppress_errors => run_suppress_errors
     procedure :: set_abort_callback => run_set_abort_callback
     procedure :: abort_requested => run_abort_requested
     procedure :: set_abort_poll_interval => run_set_abort_poll_interval
     procedure :: set_signals => run_set_signals
     procedure :: set_signal_callback => run_set_signal_callback
     procedure :: signal_received => run_signal_received
     procedure :: set_record_shell_vars => run_set_record_shell_vars
     procedure :: set_emission_metrics => run_set_emission_metrics
     procedure :: set_quiet => run_set_quiet
     procedure :: save => run_save
     procedure :: save_directory => run_save_directory
     procedure :: save_all => run_save_all
     procedure, private :: save_bytes_chars, save_bytes_r64, save_bytes_r32, save_bytes_i32, &
          save_bytes_i64
     generic :: save_bytes => save_bytes_chars, save_bytes_r64, save_bytes_r32, save_bytes_i32, &
          save_bytes_i64
     procedure :: is_associated => run_is_associated
  end type simvue_run

  abstract interface
     !> A procedure the library calls once, on its background thread, when an abort of the run
     !> is requested from the web UI; `user_data` is what was registered with it.
     subroutine simvue_abort_callback(user_data) bind(C)
       import :: c_ptr
       type(c_ptr), value :: user_data
     end subroutine simvue_abort_callback
     !> A procedure the library calls, on its signal thread, with the signal number when one of
     !> the run's signals arrives; `user_data` is what was registered with it.
     subroutine simvue_signal_callback(signum, user_data) bind(C)
       import :: c_int32_t, c_ptr
       integer(c_int32_t), value :: signum
       type(c_ptr), value :: user_data
     end subroutine simvue_signal_callback
  end interface

  ! ------------------------------------------------------------------------------------------
  ! The raw C API: private. Required strings are `char *` arrays (a Fortran string followed
  ! by c_null_char); strings that may be NULL, and arrays of strings, are `type(c_ptr)`.

  interface
     function c_version() bind(C, name='simvue_version')
       import :: c_ptr
       type(c_ptr) :: c_version
     end function c_version
     function c_result_name(code) bind(C, name='simvue_result_name')
       import :: c_ptr, c_int32_t
       integer(c_int32_t), value :: code
       type(c_ptr) :: c_result_name
     end function c_result_name
     function c_last_error() bind(C, name='simvue_last_error')
       import :: c_int
       integer(c_int) :: c_last_error
     end function c_last_error
     function c_last_error_reported() bind(C, name='simvue_last_error_reported')
       import :: c_int32_t
       integer(c_int32_t) :: c_last_error_reported
     end function c_last_error_reported

     function c_last_error_message(buf, len) bind(C, name='simvue_last_error_message')
       import :: c_char, c_size_t
       character(kind=c_char), intent(out) :: buf(*)
       integer(c_size_t), value :: len
       integer(c_size_t) :: c_last_error_message
     end function c_last_error_message
     function c_strlen(s) bind(C, name='strlen')
       import :: c_ptr, c_size_t
       type(c_ptr), value :: s
       integer(c_size_t) :: c_strlen
     end function c_strlen

     function c_run_new_ex(mode, server_url, server_token, server_profile, out) &
          bind(C, name='simvue_run_new_ex')
       import :: c_int, c_int32_t, c_ptr
       integer(c_int32_t), value :: mode
       type(c_ptr), value :: server_url, server_token, server_profile
       type(c_ptr), intent(out) :: out
       integer(c_int) :: c_run_new_ex
     end function c_run_new_ex
     subroutine c_run_free(run) bind(C, name='simvue_run_free')
       import :: c_ptr
       type(c_ptr), value :: run
     end subroutine c_run_free
     function c_run_config(run, suppress_errors, queue_blocking, queue_size, &
          disable_resources_metrics, resources_metrics_interval) bind(C, name='simvue_run_config')
       import :: c_int, c_int32_t, c_int64_t, c_ptr
       type(c_ptr), value :: run
       integer(c_int32_t), value :: suppress_errors, queue_blocking, disable_resources_metrics
       integer(c_int64_t), value :: queue_size, resources_metrics_interval
       integer(c_int) :: c_run_config
     end function c_run_config
     function c_run_init_ex(run, name, metadata_json, tags, n_tags, description, folder, &
          running, notification, retention_period, timeout, visibility, users, n_users, &
          shell_vars, n_shell_vars) bind(C, name='simvue_run_init_ex')
       import :: c_int, c_int32_t, c_int64_t, c_ptr, c_size_t
       type(c_ptr), value :: run, name, metadata_json, tags, description, folder
       type(c_ptr), value :: retention_period, users, shell_vars
       integer(c_size_t), value :: n_tags, n_users, n_shell_vars
       integer(c_int32_t), value :: running, notification, visibility
       integer(c_int64_t), value :: timeout
       integer(c_int) :: c_run_init_ex
     end function c_run_init_ex
     function c_run_name(run, buf, len, needed) bind(C, name='simvue_run_name')
       import :: c_char, c_int, c_ptr, c_size_t
       type(c_ptr), value :: run
       character(kind=c_char), intent(out) :: buf(*)
       integer(c_size_t), value :: len
       integer(c_size_t), intent(out) :: needed
       integer(c_int) :: c_run_name
     end function c_run_name
     function c_run_id(run, buf, len, needed) bind(C, name='simvue_run_id')
       import :: c_char, c_int, c_ptr, c_size_t
       type(c_ptr), value :: run
       character(kind=c_char), intent(out) :: buf(*)
       integer(c_size_t), value :: len
       integer(c_size_t), intent(out) :: needed
       integer(c_int) :: c_run_id
     end function c_run_id
     function c_run_set_pid(run, pid) bind(C, name='simvue_run_set_pid')
       import :: c_int, c_int64_t, c_ptr
       type(c_ptr), value :: run
       integer(c_int64_t), value :: pid
       integer(c_int) :: c_run_set_pid
     end function c_run_set_pid
     function c_run_reconnect(run, run_id) bind(C, name='simvue_run_reconnect')
       import :: c_char, c_int, c_ptr
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: run_id(*)
       integer(c_int) :: c_run_reconnect
     end function c_run_reconnect
     function c_run_update_metadata(run, metadata_json) bind(C, name='simvue_run_update_metadata')
       import :: c_char, c_int, c_ptr
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: metadata_json(*)
       integer(c_int) :: c_run_update_metadata
     end function c_run_update_metadata
     function c_run_set_metadata_string(run, key, value) &
          bind(C, name='simvue_run_set_metadata_string')
       import :: c_char, c_int, c_ptr
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: key(*), value(*)
       integer(c_int) :: c_run_set_metadata_string
     end function c_run_set_metadata_string
     function c_run_set_metadata_int(run, key, value) bind(C, name='simvue_run_set_metadata_int')
       import :: c_char, c_int, c_int64_t, c_ptr
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: key(*)
       integer(c_int64_t), value :: value
       integer(c_int) :: c_run_set_metadata_int
     end function c_run_set_metadata_int
     function c_run_set_metadata_double(run, key, value) &
          bind(C, name='simvue_run_set_metadata_double')
       import :: c_char, c_double, c_int, c_ptr
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: key(*)
       real(c_double), value :: value
       integer(c_int) :: c_run_set_metadata_double
     end function c_run_set_metadata_double
     function c_run_set_metadata_bool(run, key, value) bind(C, name='simvue_run_set_metadata_bool')
       import :: c_char, c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: key(*)
       integer(c_int32_t), value :: value
       integer(c_int) :: c_run_set_metadata_bool
     end function c_run_set_metadata_bool
     function c_run_update_tags(run, tags, n_tags) bind(C, name='simvue_run_update_tags')
       import :: c_int, c_ptr, c_size_t
       type(c_ptr), value :: run, tags
       integer(c_size_t), value :: n_tags
       integer(c_int) :: c_run_update_tags
     end function c_run_update_tags
     function c_run_set_tags(run, tags, n_tags) bind(C, name='simvue_run_set_tags')
       import :: c_int, c_ptr, c_size_t
       type(c_ptr), value :: run, tags
       integer(c_size_t), value :: n_tags
       integer(c_int) :: c_run_set_tags
     end function c_run_set_tags
     function c_run_log_metrics_ex(run, names, values, n, flags, step, time, timestamp) &
          bind(C, name='simvue_run_log_metrics_ex')
       import :: c_double, c_int, c_int64_t, c_ptr, c_size_t, c_int32_t
       type(c_ptr), value :: run
       type(c_ptr), intent(in) :: names(*)
       real(c_double), intent(in) :: values(*)
       integer(c_size_t), value :: n
       integer(c_int32_t), value :: flags
       integer(c_int64_t), value :: step
       real(c_double), value :: time
       type(c_ptr), value :: timestamp
       integer(c_int) :: c_run_log_metrics_ex
     end function c_run_log_metrics_ex
     function c_run_set_metric_units(run, name, units, mks_unit, mks_conversion) &
          bind(C, name='simvue_run_set_metric_units')
       import :: c_char, c_int, c_ptr
       type(c_ptr), value :: run, mks_unit, mks_conversion
       character(kind=c_char), intent(in) :: name(*), units(*)
       integer(c_int) :: c_run_set_metric_units
     end function c_run_set_metric_units
     function c_run_assign_metric_to_grid(run, metric_name, grid_name, ticks, axis_sizes, n_axes, &
          labels) bind(C, name='simvue_run_assign_metric_to_grid')
       import :: c_char, c_int, c_ptr, c_size_t
       type(c_ptr), value :: run, grid_name, ticks, axis_sizes, labels
       character(kind=c_char), intent(in) :: metric_name(*)
       integer(c_size_t), value :: n_axes
       integer(c_int) :: c_run_assign_metric_to_grid
     end function c_run_assign_metric_to_grid
     function c_run_log_metric_array(run, name, values, shape, ndim, layout, flags, step, time, &
          timestamp) bind(C, name='simvue_run_log_metric_array')
       import :: c_char, c_double, c_int, c_int32_t, c_int64_t, c_ptr, c_size_t
       type(c_ptr), value :: run, values, timestamp
       character(kind=c_char), intent(in) :: name(*)
       integer(c_size_t), intent(in) :: shape(*)
       integer(c_size_t), value :: ndim
       integer(c_int32_t), value :: layout, flags
       integer(c_int64_t), value :: step
       real(c_double), value :: time
       integer(c_int) :: c_run_log_metric_array
     end function c_run_log_metric_array
     function c_run_log_event_level(run, message, level, timestamp) &
          bind(C, name='simvue_run_log_event_level')
       import :: c_char, c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: message(*)
       integer(c_int32_t), value :: level
       type(c_ptr), value :: timestamp
       integer(c_int) :: c_run_log_event_level
     end function c_run_log_event_level
     function c_run_set_status(run, status) bind(C, name='simvue_run_set_status')
       import :: c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       integer(c_int32_t), value :: status
       integer(c_int) :: c_run_set_status
     end function c_run_set_status
     function c_run_close(run) bind(C, name='simvue_run_close')
       import :: c_int, c_ptr
       type(c_ptr), value :: run
       integer(c_int) :: c_run_close
     end function c_run_close
     function c_run_set_folder_details(run, path, metadata_json, tags, n_tags, description) &
          bind(C, name='simvue_run_set_folder_details')
       import :: c_int, c_ptr, c_size_t
       type(c_ptr), value :: run, path, metadata_json, tags, description
       integer(c_size_t), value :: n_tags
       integer(c_int) :: c_run_set_folder_details
     end function c_run_set_folder_details
     function c_run_add_alert(run, name, source, frequency, window, rule, metric, threshold, &
          range_low, range_high, notification, pattern, id_buf, id_len) &
          bind(C, name='simvue_run_add_alert')
       import :: c_char, c_double, c_int, c_int32_t, c_int64_t, c_ptr, c_size_t
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: name(*)
       integer(c_int32_t), value :: source, rule, notification
       integer(c_int64_t), value :: frequency, window
       type(c_ptr), value :: metric, pattern
       real(c_double), value :: threshold, range_low, range_high
       character(kind=c_char), intent(out) :: id_buf(*)
       integer(c_size_t), value :: id_len
       integer(c_int) :: c_run_add_alert
     end function c_run_add_alert
     function c_run_create_metric_threshold_alert(run, name, metric, threshold, rule, &
          description, window, frequency, aggregation, notification, trigger_abort, &
          attach_to_run, id_buf, id_len) bind(C, name='simvue_run_create_metric_threshold_alert')
       import :: c_char, c_double, c_int, c_int32_t, c_int64_t, c_ptr, c_size_t
       type(c_ptr), value :: run, description
       character(kind=c_char), intent(in) :: name(*), metric(*)
       real(c_double), value :: threshold
       integer(c_int32_t), value :: rule, aggregation, notification, trigger_abort, attach_to_run
       integer(c_int64_t), value :: window, frequency
       character(kind=c_char), intent(out) :: id_buf(*)
       integer(c_size_t), value :: id_len
       integer(c_int) :: c_run_create_metric_threshold_alert
     end function c_run_create_metric_threshold_alert
     function c_run_create_metric_range_alert(run, name, metric, range_low, range_high, rule, &
          description, window, frequency, aggregation, notification, trigger_abort, &
          attach_to_run, id_buf, id_len) bind(C, name='simvue_run_create_metric_range_alert')
       import :: c_char, c_double, c_int, c_int32_t, c_int64_t, c_ptr, c_size_t
       type(c_ptr), value :: run, description
       character(kind=c_char), intent(in) :: name(*), metric(*)
       real(c_double), value :: range_low, range_high
       integer(c_int32_t), value :: rule, aggregation, notification, trigger_abort, attach_to_run
       integer(c_int64_t), value :: window, frequency
       character(kind=c_char), intent(out) :: id_buf(*)
       integer(c_size_t), value :: id_len
       integer(c_int) :: c_run_create_metric_range_alert
     end function c_run_create_metric_range_alert
     function c_run_create_event_alert(run, name, pattern, description, frequency, &
          notification, trigger_abort, attach_to_run, id_buf, id_len) &
          bind(C, name='simvue_run_create_event_alert')
       import :: c_char, c_int, c_int32_t, c_int64_t, c_ptr, c_size_t
       type(c_ptr), value :: run, description
       character(kind=c_char), intent(in) :: name(*), pattern(*)
       integer(c_int64_t), value :: frequency
       integer(c_int32_t), value :: notification, trigger_abort, attach_to_run
       character(kind=c_char), intent(out) :: id_buf(*)
       integer(c_size_t), value :: id_len
       integer(c_int) :: c_run_create_event_alert
     end function c_run_create_event_alert
     function c_run_create_user_alert(run, name, description, notification, trigger_abort, &
          attach_to_run, id_buf, id_len) bind(C, name='simvue_run_create_user_alert')
       import :: c_char, c_int, c_int32_t, c_ptr, c_size_t
       type(c_ptr), value :: run, description
       character(kind=c_char), intent(in) :: name(*)
       integer(c_int32_t), value :: notification, trigger_abort, attach_to_run
       character(kind=c_char), intent(out) :: id_buf(*)
       integer(c_size_t), value :: id_len
       integer(c_int) :: c_run_create_user_alert
     end function c_run_create_user_alert
     function c_run_log_alert(run, identifier, name, state) bind(C, name='simvue_run_log_alert')
       import :: c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run, identifier, name
       integer(c_int32_t), value :: state
       integer(c_int) :: c_run_log_alert
     end function c_run_log_alert
     function c_run_add_alerts(run, ids, n_ids, names, n_names) bind(C, name='simvue_run_add_alerts')
       import :: c_int, c_ptr, c_size_t
       type(c_ptr), value :: run, ids, names
       integer(c_size_t), value :: n_ids, n_names
       integer(c_int) :: c_run_add_alerts
     end function c_run_add_alerts
     function c_run_dropped(run, metrics, events) bind(C, name='simvue_run_dropped')
       import :: c_int, c_ptr, c_int64_t
       type(c_ptr), value :: run
       integer(c_int64_t), intent(out) :: metrics, events
       integer(c_int) :: c_run_dropped
     end function c_run_dropped
     function c_run_lost_items(run, metrics, events) bind(C, name='simvue_run_lost_items')
       import :: c_int, c_ptr, c_int64_t
       type(c_ptr), value :: run
       integer(c_int64_t), intent(out) :: metrics, events
       integer(c_int) :: c_run_lost_items
     end function c_run_lost_items
     function c_run_suppress_errors(run, out) bind(C, name='simvue_run_suppress_errors')
       import :: c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       integer(c_int32_t), intent(out) :: out
       integer(c_int) :: c_run_suppress_errors
     end function c_run_suppress_errors
     function c_run_set_abort_callback(run, callback, user_data) &
          bind(C, name='simvue_run_set_abort_callback')
       import :: c_funptr, c_int, c_ptr
       type(c_ptr), value :: run
       type(c_funptr), value :: callback
       type(c_ptr), value :: user_data
       integer(c_int) :: c_run_set_abort_callback
     end function c_run_set_abort_callback
     function c_run_set_abort_on_alert(run, policy) bind(C, name='simvue_run_set_abort_on_alert')
       import :: c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       integer(c_int32_t), value :: policy
       integer(c_int) :: c_run_set_abort_on_alert
     end function c_run_set_abort_on_alert
     function c_run_abort_requested(run, out) bind(C, name='simvue_run_abort_requested')
       import :: c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       integer(c_int32_t), intent(out) :: out
       integer(c_int) :: c_run_abort_requested
     end function c_run_abort_requested
     function c_run_set_abort_poll_interval(run, seconds) &
          bind(C, name='simvue_run_set_abort_poll_interval')
       import :: c_double, c_int, c_ptr
       type(c_ptr), value :: run
       real(c_double), value :: seconds
       integer(c_int) :: c_run_set_abort_poll_interval
     end function c_run_set_abort_poll_interval
     function c_run_set_signals(run, signals, action, deadline_seconds) &
          bind(C, name='simvue_run_set_signals')
       import :: c_double, c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run, signals
       integer(c_int32_t), value :: action
       real(c_double), value :: deadline_seconds
       integer(c_int) :: c_run_set_signals
     end function c_run_set_signals
     function c_run_set_signal_callback(run, callback, user_data) &
          bind(C, name='simvue_run_set_signal_callback')
       import :: c_funptr, c_int, c_ptr
       type(c_ptr), value :: run
       type(c_funptr), value :: callback
       type(c_ptr), value :: user_data
       integer(c_int) :: c_run_set_signal_callback
     end function c_run_set_signal_callback
     function c_run_signal_received(run, signum) bind(C, name='simvue_run_signal_received')
       import :: c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       integer(c_int32_t), intent(out) :: signum
       integer(c_int) :: c_run_signal_received
     end function c_run_signal_received
     function c_run_set_record_shell_vars(run, patterns, n) &
          bind(C, name='simvue_run_set_record_shell_vars')
       import :: c_int, c_ptr, c_size_t
       type(c_ptr), value :: run, patterns
       integer(c_size_t), value :: n
       integer(c_int) :: c_run_set_record_shell_vars
     end function c_run_set_record_shell_vars
     function c_run_set_emission_metrics(run, enable) &
          bind(C, name='simvue_run_set_emission_metrics')
       import :: c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       integer(c_int32_t), value :: enable
       integer(c_int) :: c_run_set_emission_metrics
     end function c_run_set_emission_metrics
     function c_run_set_quiet(run, quiet) bind(C, name='simvue_run_set_quiet')
       import :: c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       integer(c_int32_t), value :: quiet
       integer(c_int) :: c_run_set_quiet
     end function c_run_set_quiet
     function c_resources_sample(pid, cpu_percent, memory_mib) &
          bind(C, name='simvue_resources_sample')
       import :: c_double, c_int, c_int64_t
       integer(c_int64_t), value :: pid
       real(c_double), intent(out) :: cpu_percent, memory_mib
       integer(c_int) :: c_resources_sample
     end function c_resources_sample
     function c_close_open_runs(status, message) bind(C, name='simvue_close_open_runs')
       import :: c_int, c_int32_t, c_ptr
       integer(c_int32_t), value :: status
       type(c_ptr), value :: message
       integer(c_int) :: c_close_open_runs
     end function c_close_open_runs
     function c_run_save_ex(run, filename, category, filetype, preserve_path, name, flags, &
          metadata_json) bind(C, name='simvue_run_save_ex')
       import :: c_char, c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: filename(*)
       integer(c_int32_t), value :: category, preserve_path, flags
       type(c_ptr), value :: filetype, name, metadata_json
       integer(c_int) :: c_run_save_ex
     end function c_run_save_ex
     function c_run_save_directory(run, directory, category, filetype, preserve_path, flags) &
          bind(C, name='simvue_run_save_directory')
       import :: c_char, c_int, c_int32_t, c_ptr
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: directory(*)
       integer(c_int32_t), value :: category, preserve_path, flags
       type(c_ptr), value :: filetype
       integer(c_int) :: c_run_save_directory
     end function c_run_save_directory
     function c_run_save_all(run, paths, n, category, filetype, preserve_path, flags) &
          bind(C, name='simvue_run_save_all')
       import :: c_int, c_int32_t, c_ptr, c_size_t
       type(c_ptr), value :: run, paths
       integer(c_size_t), value :: n
       integer(c_int32_t), value :: category, preserve_path, flags
       type(c_ptr), value :: filetype
       integer(c_int) :: c_run_save_all
     end function c_run_save_all
     function c_run_save_bytes_ex(run, name, data, size, category, filetype, flags, &
          metadata_json) bind(C, name='simvue_run_save_bytes_ex')
       import :: c_char, c_int, c_int32_t, c_ptr, c_size_t
       type(c_ptr), value :: run
       character(kind=c_char), intent(in) :: name(*)
       type(c_ptr), value :: data
       integer(c_size_t), value :: size
       integer(c_int32_t), value :: category, flags
       type(c_ptr), value :: filetype, metadata_json
       integer(c_int) :: c_run_save_bytes_ex
     end function c_run_save_bytes_ex
  end interface

contains

  ! ------------------------------------------------------------------------------------------
  ! Strings between Fortran and C.

  !> The length of `c_str(s)`: the trimmed string, one more byte per NUL in it, and the NUL.
  !> It comes before c_str, whose declaration calls it: gfortran gives a procedure not yet
  !> seen an implicit interface, an error under fpm's default -Werror=implicit-interface.
  pure integer function c_len(s)
    character(*), intent(in) :: s
    integer :: i
    c_len = len_trim(s) + 1
    do i = 1, len_trim(s)
       if (s(i:i) == c_null_char) c_len = c_len + 1
    end do
  end function c_len

  !> `s` without its trailing blanks, NUL-terminated: the form every string takes to C. A C
  !> string cannot carry a NUL: a char(0) inside `s` goes as the two bytes C0 80 (its
  !> "modified UTF-8" form, never valid UTF-8), which the library refuses with
  !> SIMVUE_ERROR_INVALID_ARGUMENT, instead of the string being silently cut at the NUL.
  pure function c_str(s) result(c)
    character(*), intent(in) :: s
    character(kind=c_char, len=c_len(s)) :: c
    integer :: n
    if (index(s, c_null_char) == 0) then
       c = trim(s) // c_null_char
    else
       call encode(s, c, n)
    end if
  end function c_str

  !> Writes `s` (trimmed, a NUL as C0 80) and a terminating NUL into `out`, which has room
  !> for c_len(s) characters; `n` is the number written before the terminating NUL.
  pure subroutine encode(s, out, n)
    character(*), intent(in) :: s
    character(kind=c_char, len=*), intent(inout) :: out
    integer, intent(out) :: n
    integer :: i
    n = 0
    do i = 1, len_trim(s)
       if (s(i:i) == c_null_char) then
          out(n + 1:n + 2) = char(192, c_char) // char(128, c_char)
          n = n + 2
       else
          out(n + 1:n + 1) = s(i:i)
          n = n + 1
       end if
    end do
    out(n + 1:n + 1) = c_null_char
  end subroutine encode

  !> A pointer to `c`, or NULL when it is not allocated (an absent optional string).
  function opt_ptr(c) result(p)
    character(kind=c_char, len=:), allocatable, intent(in), target :: c
    type(c_ptr) :: p
    p = c_null_ptr
    if (allocated(c)) p = c_loc(c)
  end function opt_ptr

  !> Packs `strings` (trimmed) into `buf`, one NUL-terminated string per column, and points
  !> `ptrs` at them: the `const char *const *` of the C API.
  !> A NUL inside a string is passed as C0 80 (see c_str), hence the buffer's room for two
  !> bytes per character.
  subroutine pack_strings(strings, buf, ptrs)
    character(*), intent(in) :: strings(:)
    character(kind=c_char), intent(out), target :: buf(2 * len(strings) + 1, size(strings))
    type(c_ptr), intent(out) :: ptrs(size(strings))
    integer :: i, j, k
    do i = 1, size(strings)
       k = 0
       do j = 1, len_trim(strings(i))
          if (strings(i)(j:j) == c_null_char) then
             buf(k + 1, i) = char(192, c_char)
             buf(k + 2, i) = char(128, c_char)
             k = k + 2
          else
             buf(k + 1, i) = strings(i)(j:j)
             k = k + 1
          end if
       end do
       buf(k + 1, i) = c_null_char
       ptrs(i) = c_loc(buf(1, i))
    end do
  end subroutine pack_strings

  !> Packs the optional `strings` into `list` (nothing when absent: a NULL array, count 0).
  subroutine to_list(strings, list)
    character(*), intent(in), optional :: strings(:)
    type(string_list), intent(out), target :: list
    if (.not. present(strings)) return
    allocate (list%buf(2 * len(strings) + 1, size(strings)), list%ptrs(max(1, size(strings))))
    call pack_strings(strings, list%buf, list%ptrs)
    list%n = size(strings, kind=c_size_t)
  end subroutine to_list

  !> The array of `list` for the C API: NULL when it holds nothing.
  function list_ptr(list) result(p)
    type(string_list), intent(in), target :: list
    type(c_ptr) :: p
    p = c_null_ptr
    if (allocated(list%ptrs)) p = c_loc(list%ptrs)
  end function list_ptr

  !> A NUL-terminated C string (not owned) as a Fortran string.
  function from_c(p) result(s)
    type(c_ptr), intent(in) :: p
    character(:), allocatable :: s
    character(kind=c_char), pointer :: chars(:)
    integer :: i, n
    if (.not. c_associated(p)) then
       s = ''
       return
    end if
    n = int(c_strlen(p))
    call c_f_pointer(p, chars, [n])
    allocate (character(n) :: s)
    do i = 1, n
       s(i:i) = chars(i)
    end do
  end function from_c

  !> The first `n` characters of `buf` as a Fortran string.
  pure function chars_to_string(buf, n) result(s)
    character(kind=c_char), intent(in) :: buf(:)
    integer, intent(in) :: n
    character(:), allocatable :: s
    integer :: i
    allocate (character(n) :: s)
    do i = 1, n
       s(i:i) = buf(i)
    end do
  end function chars_to_string

  ! ------------------------------------------------------------------------------------------
  ! Errors.

  !> Reports the result `rc` of the C call behind the procedure `what` on `handle`: into
  !> `stat`/`errmsg` when the caller passed `stat`, otherwise as the run's `suppress_errors` says.
  subroutine check(rc, handle, what, stat, errmsg)
    integer(c_int), intent(in) :: rc
    type(c_ptr), intent(in) :: handle
    character(*), intent(in) :: what
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    if (rc == SIMVUE_OK) then
       if (present(stat)) stat = SIMVUE_OK
       return
    end if
    call report(int(rc), handle, what, simvue_last_error_message(), stat, errmsg, &
                printed=c_last_error_reported() /= 0)
  end subroutine check

  !> Reports the failure `code` with `msg`; see `check`.
  subroutine report(code, handle, what, msg, stat, errmsg, printed)
    integer, intent(in) :: code
    type(c_ptr), intent(in) :: handle
    character(*), intent(in) :: what, msg
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    logical, intent(in), optional :: printed
    character(:), allocatable :: line
    integer(c_int32_t) :: suppress
    if (present(errmsg)) errmsg = msg
    if (present(stat)) then
       stat = code
       return
    end if
    ! The library printed it: the run suppresses errors, and its policy (what and how many to
    ! print) is the library's.
    if (present(printed)) then
       if (printed) return
    end if
    line = 'simvue: ' // what // ': ' // msg // ' (' // simvue_result_name(code) // ')'
    write (error_unit, '(a)') line
    ! Not printed by the library: the run does not suppress errors (stop, as C++ throws), or
    ! there is no run to report through (go on, as the library's default says).
    suppress = 1
    if (c_associated(handle)) then
       if (c_run_suppress_errors(handle, suppress) /= SIMVUE_OK) suppress = 1
    end if
    if (suppress == 0) error stop 'simvue: stopped on the error above (suppress_errors is off)'
  end subroutine report

  !> `.true.` as 1, `.false.` as 0, absent as SIMVUE_KEEP.
  pure integer(c_int32_t) function flag(value)
    logical, intent(in), optional :: value
    flag = KEEP
    if (present(value)) flag = merge(1_c_int32_t, 0_c_int32_t, value)
  end function flag

  ! ------------------------------------------------------------------------------------------
  ! Module procedures.

  !> The library's version, for example `0.1.0`.
  function simvue_version() result(version)
    character(:), allocatable :: version
    version = from_c(c_version())
  end function simvue_version

  !> The name of a result code, for example `SIMVUE_ERROR_CLOSED`.
  function simvue_result_name(code) result(name)
    integer, intent(in) :: code
    character(:), allocatable :: name
    name = from_c(c_result_name(int(code, c_int32_t)))
  end function simvue_result_name

  !> The code of the calling thread's last error (SIMVUE_OK if there was none).
  integer function simvue_last_error()
    simvue_last_error = int(c_last_error())
  end function simvue_last_error

  !> The message of the calling thread's last error.
  function simvue_last_error_message() result(msg)
    character(:), allocatable :: msg
    character(kind=c_char), allocatable :: buf(:)
    integer(c_size_t) :: n
    allocate (buf(256))
    n = c_last_error_message(buf, size(buf, kind=c_size_t))
    if (n >= size(buf, kind=c_size_t)) then
       deallocate (buf)
       allocate (buf(n + 1))
       n = c_last_error_message(buf, size(buf, kind=c_size_t))
    end if
    msg = chars_to_string(buf, int(min(n, size(buf, kind=c_size_t) - 1)))
  end function simvue_last_error_message

  ! ------------------------------------------------------------------------------------------
  ! simvue_run

  !> Creates the run in `mode` (SIMVUE_MODE_ONLINE, _OFFLINE or _DISABLED); SIMVUE_MODE in the
  !> environment overrides it. A run this variable held before is not freed (see `free`).
  !> `server_url`, `server_token`, `server_profile` (all optional) name the server without a
  !> config file, as the Python client's `Run(server_url=..., ...)`; SIMVUE_URL,
  !> SIMVUE_TOKEN and SIMVUE_SERVER_PROFILE in the environment still win.
  subroutine run_new(this, mode, server_url, server_token, server_profile, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    integer, intent(in) :: mode
    character(*), intent(in), optional :: server_url, server_token, server_profile
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_url, c_token, c_profile
    integer(c_int) :: rc
    if (present(server_url)) c_url = c_str(server_url)
    if (present(server_token)) c_token = c_str(server_token)
    if (present(server_profile)) c_profile = c_str(server_profile)
    this%handle = c_null_ptr
    rc = c_run_new_ex(int(mode, c_int32_t), opt_ptr(c_url), opt_ptr(c_token), opt_ptr(c_profile), &
         this%handle)
    call check(rc, c_null_ptr, 'new', stat, errmsg)
  end subroutine run_new

  !> Closes the run if it is still open (status `completed` if it was running) and releases it.
  !> The variable can then be used for a `new` run. Freeing a run that was never created, or
  !> twice, does nothing. A run freed through one copy of the variable is gone for the others:
  !> calls through them fail with SIMVUE_ERROR_INVALID_HANDLE (freeing again does nothing).
  subroutine run_free(this)
    class(simvue_run), intent(inout) :: this
    call c_run_free(this%handle)
    this%handle = c_null_ptr
  end subroutine run_free

  !> Whether the variable holds a run (after `new`, before `free`).
  logical function run_is_associated(this)
    class(simvue_run), intent(in) :: this
    run_is_associated = c_associated(this%handle)
  end function run_is_associated

  !> Configures the run before `init`; an absent argument keeps its setting (see the C API for
  !> the defaults: errors suppressed, non-blocking queues of 10000, resources every 30 s).
  !> `abort_on_alert` (SIMVUE_ABORT_ON_ALERT_RUN, the default, _TERMINATE or _IGNORE) says what
  !> an abort requested from the server does, and may be given at any time.
  subroutine run_config(this, suppress_errors, queue_blocking, queue_size, &
       disable_resources_metrics, resources_metrics_interval, abort_on_alert, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    logical, intent(in), optional :: suppress_errors, queue_blocking, disable_resources_metrics
    integer, intent(in), optional :: queue_size, resources_metrics_interval, abort_on_alert
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    integer(c_int64_t) :: c_queue_size, c_interval
    integer(c_int) :: rc
    c_queue_size = KEEP
    c_interval = KEEP
    if (present(queue_size)) c_queue_size = queue_size
    if (present(resources_metrics_interval)) c_interval = resources_metrics_interval
    rc = SIMVUE_OK
    if (present(suppress_errors) .or. present(queue_blocking) .or. present(queue_size) .or. &
         present(disable_resources_metrics) .or. present(resources_metrics_interval) .or. &
         .not. present(abort_on_alert)) then
       rc = c_run_config(this%handle, flag(suppress_errors), flag(queue_blocking), c_queue_size, &
            flag(disable_resources_metrics), c_interval)
    end if
    if (rc == SIMVUE_OK .and. present(abort_on_alert)) then
       rc = c_run_set_abort_on_alert(this%handle, int(abort_on_alert, c_int32_t))
    end if
    call check(rc, this%handle, 'config', stat, errmsg)
  end subroutine run_config

  !> Initialises the run. `name` (random when absent), `metadata` (a JSON object, e.g.
  !> '{"nx": 64}'; keys set with `set_metadata` before are added), `tags`, `description`,
  !> `folder` (default `/`) are all optional; `running` (default .true.) starts the run. The
  !> other options of the Python client's `init`: `notification` (SIMVUE_NOTIFY_*, default
  !> _NONE), `retention_period` ('1 hour', '30m', ...; default: for ever), `timeout` (seconds
  !> without a heartbeat before the run is `lost`, default 180; SIMVUE_NO_TIMEOUT: never),
  !> `visibility` (SIMVUE_VISIBILITY_*, default _PRIVATE; `users` with _USERS) and
  !> `record_shell_vars` (environment variables to record, as glob patterns).
  subroutine run_init(this, name, metadata, tags, description, folder, running, notification, &
       retention_period, timeout, visibility, users, record_shell_vars, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in), optional :: name, metadata, description, folder, retention_period
    character(*), intent(in), optional :: tags(:), users(:), record_shell_vars(:)
    logical, intent(in), optional :: running
    integer, intent(in), optional :: notification, timeout, visibility
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_name, c_metadata, c_description, &
         c_folder, c_retention
    type(string_list), target :: c_tags, c_users, c_shell_vars
    integer(c_int32_t) :: c_running, c_notification, c_visibility
    integer(c_int64_t) :: c_timeout
    if (present(name)) c_name = c_str(name)
    if (present(metadata)) c_metadata = c_str(metadata)
    if (present(description)) c_description = c_str(description)
    if (present(folder)) c_folder = c_str(folder)
    if (present(retention_period)) c_retention = c_str(retention_period)
    call to_list(tags, c_tags)
    call to_list(users, c_users)
    call to_list(record_shell_vars, c_shell_vars)
    c_running = 1
    if (present(running)) c_running = merge(1, 0, running)
    c_notification = SIMVUE_NOTIFY_NONE
    if (present(notification)) c_notification = int(notification, c_int32_t)
    c_timeout = KEEP
    if (present(timeout)) c_timeout = timeout
    c_visibility = SIMVUE_VISIBILITY_PRIVATE
    if (present(visibility)) c_visibility = int(visibility, c_int32_t)
    call check(c_run_init_ex(this%handle, opt_ptr(c_name), opt_ptr(c_metadata), &
         list_ptr(c_tags), c_tags%n, opt_ptr(c_description), opt_ptr(c_folder), c_running, &
         c_notification, opt_ptr(c_retention), c_timeout, c_visibility, list_ptr(c_users), &
         c_users%n, list_ptr(c_shell_vars), c_shell_vars%n), this%handle, 'init', stat, errmsg)
  end subroutine run_init

  !> The run's name (after `init`; empty for a disabled run, and on failure).
  function run_name(this, stat, errmsg) result(name)
    class(simvue_run), intent(in) :: this
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(:), allocatable :: name
    call get_string(this%handle, .false., name, stat, errmsg)
  end function run_name

  !> The run's id (after `init`; `offline_<uuid>` offline), to `reconnect` to it later.
  function run_id(this, stat, errmsg) result(id)
    class(simvue_run), intent(in) :: this
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(:), allocatable :: id
    call get_string(this%handle, .true., id, stat, errmsg)
  end function run_id

  subroutine get_string(handle, want_id, out, stat, errmsg)
    type(c_ptr), intent(in) :: handle
    logical, intent(in) :: want_id
    character(:), allocatable, intent(out) :: out
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char), allocatable :: buf(:)
    integer(c_size_t) :: needed
    integer(c_int) :: rc
    integer :: try
    allocate (buf(128))
    do try = 1, 2
       needed = 0
       if (want_id) then
          rc = c_run_id(handle, buf, size(buf, kind=c_size_t), needed)
       else
          rc = c_run_name(handle, buf, size(buf, kind=c_size_t), needed)
       end if
       if (rc /= SIMVUE_ERROR_BUFFER_TOO_SMALL) exit
       deallocate (buf)
       allocate (buf(needed + 1))
    end do
    if (rc == SIMVUE_OK) then
       out = chars_to_string(buf, int(needed))
    else
       out = ''
    end if
    if (want_id) then
       call check(rc, handle, 'id', stat, errmsg)
    else
       call check(rc, handle, 'name', stat, errmsg)
    end if
  end subroutine get_string

  !> Sets the process whose tree is sampled for resource metrics (default: this process).
  subroutine run_set_pid(this, pid, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    integer, intent(in) :: pid
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_pid(this%handle, int(pid, c_int64_t)), this%handle, 'set_pid', &
         stat, errmsg)
  end subroutine run_set_pid

  !> Reconnects a new, uninitialised run to the existing run `run_id` and starts it.
  subroutine run_reconnect(this, run_id, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: run_id
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_reconnect(this%handle, c_str(run_id)), this%handle, 'reconnect', &
         stat, errmsg)
  end subroutine run_reconnect

  !> Adds or replaces metadata from a JSON object, e.g. '{"t_final": 1.5}'.
  subroutine run_update_metadata(this, metadata, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: metadata
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_update_metadata(this%handle, c_str(metadata)), this%handle, &
         'update_metadata', stat, errmsg)
  end subroutine run_update_metadata

  !> `set_metadata(key, value)`: one metadata key set to a string, an integer (JSON integer), a
  !> real (JSON number; NaN and infinities are refused) or a logical (JSON boolean). Before
  !> `init` the key is kept for init.
  subroutine set_metadata_str(this, key, value, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: key, value
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_metadata_string(this%handle, c_str(key), c_str(value)), this%handle, &
         'set_metadata', stat, errmsg)
  end subroutine set_metadata_str

  subroutine set_metadata_i32(this, key, value, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: key
    integer(int32), intent(in) :: value
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_metadata_int(this%handle, c_str(key), int(value, c_int64_t)), &
         this%handle, 'set_metadata', stat, errmsg)
  end subroutine set_metadata_i32

  subroutine set_metadata_i64(this, key, value, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: key
    integer(int64), intent(in) :: value
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_metadata_int(this%handle, c_str(key), int(value, c_int64_t)), &
         this%handle, 'set_metadata', stat, errmsg)
  end subroutine set_metadata_i64

  subroutine set_metadata_r32(this, key, value, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: key
    real(real32), intent(in) :: value
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_metadata_double(this%handle, c_str(key), real(value, c_double)), &
         this%handle, 'set_metadata', stat, errmsg)
  end subroutine set_metadata_r32

  subroutine set_metadata_r64(this, key, value, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: key
    real(real64), intent(in) :: value
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_metadata_double(this%handle, c_str(key), real(value, c_double)), &
         this%handle, 'set_metadata', stat, errmsg)
  end subroutine set_metadata_r64

  subroutine set_metadata_bool(this, key, value, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: key
    logical, intent(in) :: value
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_metadata_bool(this%handle, c_str(key), &
         merge(1_c_int32_t, 0_c_int32_t, value)), this%handle, 'set_metadata', stat, errmsg)
  end subroutine set_metadata_bool

  !> Adds tags to the run (keeping the ones it has, also those added in the web UI).
  subroutine run_update_tags(this, tags, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: tags(:)
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char), target :: buf(2 * len(tags) + 1, size(tags))
    type(c_ptr), target :: ptrs(max(1, size(tags)))
    call pack_strings(tags, buf, ptrs)
    call check(c_run_update_tags(this%handle, c_loc(ptrs), size(tags, kind=c_size_t)), &
         this%handle, 'update_tags', stat, errmsg)
  end subroutine run_update_tags

  !> Replaces the run's tags (`set_tags`); a zero-size `tags` clears them.
  subroutine run_set_tags(this, tags, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: tags(:)
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    type(string_list), target :: c_tags
    call to_list(tags, c_tags)
    call check(c_run_set_tags(this%handle, list_ptr(c_tags), c_tags%n), this%handle, &
         'set_tags', stat, errmsg)
  end subroutine run_set_tags

  !> `log_metrics(names, values)`: one set of metrics, `names(i)` with `values(i)` (the two
  !> arrays have the same size); `log_metrics(name, value)` / `log_metric(name, value)`: one
  !> metric. By default the step counts up by one each call, the time is seconds since `init`
  !> and the timestamp is now; `step` (>= 0), `time` and `timestamp` ('YYYY-MM-DD
  !> hh:mm:ss.ffffff', UTC) override them. The values are only queued (cheap in a time loop).
  subroutine log_metrics_r64(this, names, values, step, time, timestamp, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: names(:)
    real(real64), intent(in) :: values(:)
    integer, intent(in), optional :: step
    real(real64), intent(in), optional :: time
    character(*), intent(in), optional :: timestamp
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call log_metrics_impl(this%handle, names, real(values, c_double), step, time, timestamp, &
         stat, errmsg)
  end subroutine log_metrics_r64

  subroutine log_metrics_r32(this, names, values, step, time, timestamp, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: names(:)
    real(real32), intent(in) :: values(:)
    integer, intent(in), optional :: step
    real(real64), intent(in), optional :: time
    character(*), intent(in), optional :: timestamp
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call log_metrics_impl(this%handle, names, real(values, c_double), step, time, timestamp, &
         stat, errmsg)
  end subroutine log_metrics_r32

  subroutine log_metric_r64(this, name, value, step, time, timestamp, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    real(real64), intent(in) :: value
    integer, intent(in), optional :: step
    real(real64), intent(in), optional :: time
    character(*), intent(in), optional :: timestamp
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call log_metrics_impl(this%handle, [name], [real(value, c_double)], step, time, timestamp, &
         stat, errmsg)
  end subroutine log_metric_r64

  subroutine log_metric_r32(this, name, value, step, time, timestamp, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    real(real32), intent(in) :: value
    integer, intent(in), optional :: step
    real(real64), intent(in), optional :: time
    character(*), intent(in), optional :: timestamp
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call log_metrics_impl(this%handle, [name], [real(value, c_double)], step, time, timestamp, &
         stat, errmsg)
  end subroutine log_metric_r32

  subroutine log_metrics_impl(handle, names, values, step, time, timestamp, stat, errmsg)
    type(c_ptr), intent(in) :: handle
    character(*), intent(in) :: names(:)
    real(c_double), intent(in) :: values(:)
    integer, intent(in), optional :: step
    real(real64), intent(in), optional :: time
    character(*), intent(in), optional :: timestamp
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    ! Automatic arrays: no heap allocation on the hot path.
    character(kind=c_char), target :: buf(2 * len(names) + 1, size(names))
    type(c_ptr) :: ptrs(max(1, size(names)))
    character(kind=c_char, len=:), allocatable, target :: c_timestamp
    integer(c_int32_t) :: flags
    integer(c_int64_t) :: c_step
    real(c_double) :: c_time
    integer(c_int) :: rc
    character(80) :: msg
    if (size(values) /= size(names)) then
       ! The C API takes one count for both arrays, so this is checked here.
       write (msg, '(i0,a,i0,a)') size(names), ' names but ', size(values), ' values'
       call report(SIMVUE_ERROR_INVALID_ARGUMENT, handle, 'log_metrics', trim(msg), stat, &
            errmsg)
       return
    end if
    call pack_strings(names, buf, ptrs)
    flags = 0
    c_step = 0
    c_time = 0
    if (present(step)) then
       flags = ior(flags, METRICS_STEP)
       c_step = step
    end if
    if (present(time)) then
       flags = ior(flags, METRICS_TIME)
       c_time = time
    end if
    if (present(timestamp)) c_timestamp = c_str(timestamp)
    rc = c_run_log_metrics_ex(handle, ptrs, values, size(names, kind=c_size_t), flags, &
         c_step, c_time, opt_ptr(c_timestamp))
    call check(rc, handle, 'log_metrics', stat, errmsg)
  end subroutine log_metrics_impl

  !> Records the units of metric `name` (`set_metric_units`): the unit symbol `units` ('km',
  !> 'J/kg'); `mks_unit` and `mks_conversion` (the MKS unit and the factor to it) are worked
  !> out as the Python client does when absent. Sent with the next `log_metrics`.
  subroutine run_set_metric_units(this, name, units, mks_unit, mks_conversion, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name, units
    character(*), intent(in), optional :: mks_unit
    real(real64), intent(in), optional, target :: mks_conversion
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_mks_unit
    real(c_double), target :: c_conversion
    type(c_ptr) :: p_conversion
    if (present(mks_unit)) c_mks_unit = c_str(mks_unit)
    p_conversion = c_null_ptr
    if (present(mks_conversion)) then
       c_conversion = mks_conversion
       p_conversion = c_loc(c_conversion)
    end if
    call check(c_run_set_metric_units(this%handle, c_str(name), c_str(units), &
         opt_ptr(c_mks_unit), p_conversion), this%handle, 'set_metric_units', stat, errmsg)
  end subroutine run_set_metric_units

  !> Assigns metric `metric_name` to a grid (`assign_metric_to_grid`): a new grid
  !> `grid_name` (default: the metric's name) with the ticks of its axes, `x_ticks` (axis 0),
  !> `y_ticks`, `z_ticks`, and one label each in `axes_labels`; or, without ticks, the grid
  !> `grid_name` this run created before. Axis 0 runs along an array's first index: `t(nx, ny)`
  !> is on a grid with axes x, y (as a C program's `t[ny][nx]`).
  subroutine run_assign_metric_to_grid(this, metric_name, grid_name, x_ticks, y_ticks, z_ticks, &
       axes_labels, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: metric_name
    character(*), intent(in), optional :: grid_name
    real(real64), intent(in), optional :: x_ticks(:), y_ticks(:), z_ticks(:)
    character(*), intent(in), optional :: axes_labels(:)
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_grid
    real(c_double), allocatable, target :: ticks(:)
    integer(c_size_t), target :: sizes(3)
    integer(c_size_t) :: n_axes
    type(string_list), target :: labels
    type(c_ptr) :: p_ticks, p_sizes
    if (present(grid_name)) c_grid = c_str(grid_name)
    allocate (ticks(0))
    n_axes = 0
    sizes = 0
    if (present(x_ticks)) call add_axis(x_ticks)
    if (present(y_ticks)) call add_axis(y_ticks)
    if (present(z_ticks)) call add_axis(z_ticks)
    call to_list(axes_labels, labels)
    p_ticks = c_null_ptr
    p_sizes = c_null_ptr
    if (n_axes > 0) then
       if (size(ticks) > 0) p_ticks = c_loc(ticks)
       p_sizes = c_loc(sizes)
    end if
    if (n_axes > 0 .and. labels%n /= n_axes) then
       call report(SIMVUE_ERROR_INVALID_ARGUMENT, this%handle, 'assign_metric_to_grid', &
            'give one label per axis (axes_labels)', stat, errmsg)
       return
    end if
    call check(c_run_assign_metric_to_grid(this%handle, c_str(metric_name), opt_ptr(c_grid), &
         p_ticks, p_sizes, n_axes, list_ptr(labels)), this%handle, 'assign_metric_to_grid', &
         stat, errmsg)
  contains
    subroutine add_axis(axis)
      real(real64), intent(in) :: axis(:)
      n_axes = n_axes + 1
      sizes(n_axes) = size(axis, kind=c_size_t)
      ticks = [ticks, real(axis, c_double)]
    end subroutine add_axis
  end subroutine run_assign_metric_to_grid

  !> `log_metrics(name, values)` with an array of real64 `values` of rank 1 to 3: the values of
  !> metric `name` on its grid at one step (a field, a profile); `values(i, j)` is at tick i of
  !> axis 0 (x) and tick j of axis 1 (y). A metric not assigned to a grid gets one with ticks
  !> from 0 to 1. `step`, `time`, `timestamp` as for scalar metrics; at most 50000 values.
  subroutine log_array_1d(this, name, values, step, time, timestamp, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    real(real64), intent(in), target, contiguous :: values(:)
    integer, intent(in), optional :: step
    real(real64), intent(in), optional :: time
    character(*), intent(in), optional :: timestamp
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call log_array_impl(this%handle, name, c_loc(values), shape(values, kind=c_size_t), step, &
         time, timestamp, stat, errmsg)
  end subroutine log_array_1d

  subroutine log_array_2d(this, name, values, step, time, timestamp, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    real(real64), intent(in), target, contiguous :: values(:, :)
    integer, intent(in), optional :: step
    real(real64), intent(in), optional :: time
    character(*), intent(in), optional :: timestamp
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call log_array_impl(this%handle, name, c_loc(values), shape(values, kind=c_size_t), step, &
         time, timestamp, stat, errmsg)
  end subroutine log_array_2d

  subroutine log_array_3d(this, name, values, step, time, timestamp, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    real(real64), intent(in), target, contiguous :: values(:, :, :)
    integer, intent(in), optional :: step
    real(real64), intent(in), optional :: time
    character(*), intent(in), optional :: timestamp
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call log_array_impl(this%handle, name, c_loc(values), shape(values, kind=c_size_t), step, &
         time, timestamp, stat, errmsg)
  end subroutine log_array_3d

  subroutine log_array_impl(handle, name, values, dims, step, time, timestamp, stat, errmsg)
    type(c_ptr), intent(in) :: handle, values
    character(*), intent(in) :: name
    integer(c_size_t), intent(in) :: dims(:)
    integer, intent(in), optional :: step
    real(real64), intent(in), optional :: time
    character(*), intent(in), optional :: timestamp
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_timestamp
    integer(c_int32_t) :: flags
    integer(c_int64_t) :: c_step
    real(c_double) :: c_time
    flags = 0
    c_step = 0
    c_time = 0
    if (present(step)) then
       flags = ior(flags, METRICS_STEP)
       c_step = step
    end if
    if (present(time)) then
       flags = ior(flags, METRICS_TIME)
       c_time = time
    end if
    if (present(timestamp)) c_timestamp = c_str(timestamp)
    call check(c_run_log_metric_array(handle, c_str(name), values, dims, &
         size(dims, kind=c_size_t), COLUMN_MAJOR, flags, c_step, c_time, opt_ptr(c_timestamp)), &
         handle, 'log_metrics', stat, errmsg)
  end subroutine log_array_impl

  !> Logs an event `message`, at `level` (default SIMVUE_LOG_INFO), at `timestamp`
  !> ('YYYY-MM-DD hh:mm:ss.ffffff', UTC; default now).
  subroutine run_log_event(this, message, timestamp, level, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: message
    character(*), intent(in), optional :: timestamp
    integer, intent(in), optional :: level
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_timestamp
    integer(c_int32_t) :: c_level
    c_level = SIMVUE_LOG_INFO
    if (present(level)) c_level = int(level, c_int32_t)
    if (present(timestamp)) c_timestamp = c_str(timestamp)
    call check(c_run_log_event_level(this%handle, c_str(message), c_level, &
         opt_ptr(c_timestamp)), this%handle, 'log_event', stat, errmsg)
  end subroutine run_log_event

  !> Sets the final status: SIMVUE_STATUS_COMPLETED, _FAILED or _TERMINATED.
  subroutine run_set_status(this, status, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    integer, intent(in) :: status
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_status(this%handle, int(status, c_int32_t)), this%handle, &
         'set_status', stat, errmsg)
  end subroutine run_set_status

  !> Closes the run: writes what is queued, sets a running run `completed` (`lost`, with
  !> SIMVUE_ERROR_IO, when logged data could not be written anywhere). Later calls that record
  !> something fail with SIMVUE_ERROR_CLOSED; `name`, `id`, `dropped`, `lost_items` keep working.
  subroutine run_close(this, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_close(this%handle), this%handle, 'close', stat, errmsg)
  end subroutine run_close

  !> Sets metadata (a JSON object), tags and a description on the folder `path` (default: the
  !> run's folder). An absent argument leaves that field as it is; a zero-size `tags` clears
  !> the tags.
  subroutine run_set_folder_details(this, path, metadata, tags, description, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in), optional :: path, metadata, description
    character(*), intent(in), optional :: tags(:)
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_path, c_metadata, c_description
    integer(c_int) :: rc
    if (present(path)) c_path = c_str(path)
    if (present(metadata)) c_metadata = c_str(metadata)
    if (present(description)) c_description = c_str(description)
    if (present(tags)) then
       call with_tags(tags, rc)
    else
       rc = c_run_set_folder_details(this%handle, opt_ptr(c_path), opt_ptr(c_metadata), &
            c_null_ptr, 0_c_size_t, opt_ptr(c_description))
    end if
    call check(rc, this%handle, 'set_folder_details', stat, errmsg)
  contains
    subroutine with_tags(tags, rc)
      character(*), intent(in) :: tags(:)
      integer(c_int), intent(out) :: rc
      character(kind=c_char), target :: buf(2 * len(tags) + 1, size(tags))
      type(c_ptr), target :: ptrs(max(1, size(tags)))
      call pack_strings(tags, buf, ptrs)
      ! ptrs is never NULL, so zero tags clear the folder's tags.
      rc = c_run_set_folder_details(this%handle, opt_ptr(c_path), opt_ptr(c_metadata), &
           c_loc(ptrs), size(tags, kind=c_size_t), opt_ptr(c_description))
    end subroutine with_tags
  end subroutine run_set_folder_details

  !> Defines an alert and attaches it to the run. `source` is SIMVUE_ALERT_SOURCE_METRICS or
  !> _EVENTS; `frequency` is in seconds; `window` (default: the frequency) is the averaging
  !> window. Metrics alerts need `rule` (SIMVUE_ALERT_RULE_*) and `metric`, and `threshold`
  !> (above/below) or `range_low` < `range_high` (range rules); events alerts need `pattern`.
  !> `notification` defaults to SIMVUE_NOTIFICATION_NONE. `id` receives the alert's id.
  subroutine run_add_alert(this, name, source, frequency, window, rule, metric, threshold, &
       range_low, range_high, notification, pattern, id, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    integer, intent(in) :: source, frequency
    integer, intent(in), optional :: window, rule, notification
    character(*), intent(in), optional :: metric, pattern
    real(real64), intent(in), optional :: threshold, range_low, range_high
    character(:), allocatable, intent(out), optional :: id
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_metric, c_pattern
    character(kind=c_char) :: id_buf(SIMVUE_ID_BUFFER_SIZE)
    integer(c_int64_t) :: c_window
    integer(c_int32_t) :: c_rule, c_notification
    real(c_double) :: c_threshold, c_low, c_high
    integer(c_int) :: rc
    c_window = 0
    if (present(window)) c_window = window
    c_rule = KEEP ! not a rule: the library refuses a metrics alert without one
    if (present(rule)) c_rule = int(rule, c_int32_t)
    c_notification = SIMVUE_NOTIFICATION_NONE
    if (present(notification)) c_notification = int(notification, c_int32_t)
    c_threshold = 0
    c_low = 0
    c_high = 0
    if (present(threshold)) c_threshold = threshold
    if (present(range_low)) c_low = range_low
    if (present(range_high)) c_high = range_high
    if (present(metric)) c_metric = c_str(metric)
    if (present(pattern)) c_pattern = c_str(pattern)
    id_buf(1) = c_null_char
    rc = c_run_add_alert(this%handle, c_str(name), int(source, c_int32_t), &
         int(frequency, c_int64_t), c_window, c_rule, opt_ptr(c_metric), c_threshold, c_low, &
         c_high, c_notification, opt_ptr(c_pattern), id_buf, size(id_buf, kind=c_size_t))
    if (present(id)) id = id_from_buf(id_buf, rc)
    call check(rc, this%handle, 'add_alert', stat, errmsg)
  end subroutine run_add_alert

  !> The id a `create_*_alert` call wrote into `id_buf` (empty when it failed).
  function id_from_buf(id_buf, rc) result(id)
    character(kind=c_char), intent(in) :: id_buf(:)
    integer(c_int), intent(in) :: rc
    character(:), allocatable :: id
    integer :: n
    n = 0
    do while (n < size(id_buf))
       if (id_buf(n + 1) == c_null_char) exit
       n = n + 1
    end do
    if (rc /= SIMVUE_OK) n = 0
    id = chars_to_string(id_buf, n)
  end function id_from_buf

  !> The C values of the options every `create_*_alert` shares (Python's defaults when
  !> absent: frequency 1, window = frequency, aggregation average, no notification, no abort,
  !> attached to the run).
  subroutine alert_options(window, frequency, aggregation, notification, trigger_abort, &
       attach_to_run, c_window, c_frequency, c_aggregation, c_notification, c_abort, c_attach)
    integer, intent(in), optional :: window, frequency, aggregation, notification
    logical, intent(in), optional :: trigger_abort, attach_to_run
    integer(c_int64_t), intent(out) :: c_window, c_frequency
    integer(c_int32_t), intent(out) :: c_aggregation, c_notification, c_abort, c_attach
    c_window = 0
    if (present(window)) c_window = window
    c_frequency = 1
    if (present(frequency)) c_frequency = frequency
    c_aggregation = SIMVUE_AGGREGATION_AVERAGE
    if (present(aggregation)) c_aggregation = int(aggregation, c_int32_t)
    c_notification = SIMVUE_NOTIFICATION_NONE
    if (present(notification)) c_notification = int(notification, c_int32_t)
    c_abort = 0
    if (present(trigger_abort)) c_abort = merge(1_c_int32_t, 0_c_int32_t, trigger_abort)
    c_attach = 1
    if (present(attach_to_run)) c_attach = merge(1_c_int32_t, 0_c_int32_t, attach_to_run)
  end subroutine alert_options

  !> Creates a metric threshold alert (`create_metric_threshold_alert`): `rule` is
  !> SIMVUE_ALERT_RULE_IS_ABOVE or _IS_BELOW `threshold`. Optional, with the Python client's
  !> defaults: `description`, `window` (seconds; default the frequency), `frequency` (seconds,
  !> default 1), `aggregation` (SIMVUE_AGGREGATION_*, default _AVERAGE), `notification`
  !> (default SIMVUE_NOTIFICATION_NONE), `trigger_abort` (default .false.), `attach_to_run`
  !> (default .true.). `id` receives the alert's id.
  subroutine run_create_metric_threshold_alert(this, name, metric, threshold, rule, &
       description, window, frequency, aggregation, notification, trigger_abort, &
       attach_to_run, id, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name, metric
    real(real64), intent(in) :: threshold
    integer, intent(in) :: rule
    character(*), intent(in), optional :: description
    integer, intent(in), optional :: window, frequency, aggregation, notification
    logical, intent(in), optional :: trigger_abort, attach_to_run
    character(:), allocatable, intent(out), optional :: id
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_description
    character(kind=c_char) :: id_buf(SIMVUE_ID_BUFFER_SIZE)
    integer(c_int64_t) :: c_window, c_frequency
    integer(c_int32_t) :: c_aggregation, c_notification, c_abort, c_attach
    integer(c_int) :: rc
    if (present(description)) c_description = c_str(description)
    call alert_options(window, frequency, aggregation, notification, trigger_abort, &
         attach_to_run, c_window, c_frequency, c_aggregation, c_notification, c_abort, c_attach)
    id_buf(1) = c_null_char
    rc = c_run_create_metric_threshold_alert(this%handle, c_str(name), c_str(metric), &
         real(threshold, c_double), int(rule, c_int32_t), opt_ptr(c_description), c_window, &
         c_frequency, c_aggregation, c_notification, c_abort, c_attach, id_buf, &
         size(id_buf, kind=c_size_t))
    if (present(id)) id = id_from_buf(id_buf, rc)
    call check(rc, this%handle, 'create_metric_threshold_alert', stat, errmsg)
  end subroutine run_create_metric_threshold_alert

  !> Creates a metric range alert (`create_metric_range_alert`): `rule` is
  !> SIMVUE_ALERT_RULE_IS_INSIDE_RANGE or _IS_OUTSIDE_RANGE of [`range_low`, `range_high`];
  !> the optional arguments as `create_metric_threshold_alert`.
  subroutine run_create_metric_range_alert(this, name, metric, range_low, range_high, rule, &
       description, window, frequency, aggregation, notification, trigger_abort, &
       attach_to_run, id, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name, metric
    real(real64), intent(in) :: range_low, range_high
    integer, intent(in) :: rule
    character(*), intent(in), optional :: description
    integer, intent(in), optional :: window, frequency, aggregation, notification
    logical, intent(in), optional :: trigger_abort, attach_to_run
    character(:), allocatable, intent(out), optional :: id
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_description
    character(kind=c_char) :: id_buf(SIMVUE_ID_BUFFER_SIZE)
    integer(c_int64_t) :: c_window, c_frequency
    integer(c_int32_t) :: c_aggregation, c_notification, c_abort, c_attach
    integer(c_int) :: rc
    if (present(description)) c_description = c_str(description)
    call alert_options(window, frequency, aggregation, notification, trigger_abort, &
         attach_to_run, c_window, c_frequency, c_aggregation, c_notification, c_abort, c_attach)
    id_buf(1) = c_null_char
    rc = c_run_create_metric_range_alert(this%handle, c_str(name), c_str(metric), &
         real(range_low, c_double), real(range_high, c_double), int(rule, c_int32_t), &
         opt_ptr(c_description), c_window, c_frequency, c_aggregation, c_notification, &
         c_abort, c_attach, id_buf, size(id_buf, kind=c_size_t))
    if (present(id)) id = id_from_buf(id_buf, rc)
    call check(rc, this%handle, 'create_metric_range_alert', stat, errmsg)
  end subroutine run_create_metric_range_alert

  !> Creates an events alert (`create_event_alert`) that fires when an event message contains
  !> `pattern`; `description`, `frequency`, `notification`, `trigger_abort`, `attach_to_run`
  !> and `id` as `create_metric_threshold_alert`.
  subroutine run_create_event_alert(this, name, pattern, description, frequency, &
       notification, trigger_abort, attach_to_run, id, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name, pattern
    character(*), intent(in), optional :: description
    integer, intent(in), optional :: frequency, notification
    logical, intent(in), optional :: trigger_abort, attach_to_run
    character(:), allocatable, intent(out), optional :: id
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_description
    character(kind=c_char) :: id_buf(SIMVUE_ID_BUFFER_SIZE)
    integer(c_int64_t) :: c_window, c_frequency
    integer(c_int32_t) :: c_aggregation, c_notification, c_abort, c_attach
    integer(c_int) :: rc
    if (present(description)) c_description = c_str(description)
    call alert_options(frequency=frequency, notification=notification, &
         trigger_abort=trigger_abort, attach_to_run=attach_to_run, c_window=c_window, &
         c_frequency=c_frequency, c_aggregation=c_aggregation, c_notification=c_notification, &
         c_abort=c_abort, c_attach=c_attach)
    id_buf(1) = c_null_char
    rc = c_run_create_event_alert(this%handle, c_str(name), c_str(pattern), &
         opt_ptr(c_description), c_frequency, c_notification, c_abort, c_attach, id_buf, &
         size(id_buf, kind=c_size_t))
    if (present(id)) id = id_from_buf(id_buf, rc)
    call check(rc, this%handle, 'create_event_alert', stat, errmsg)
  end subroutine run_create_event_alert

  !> Creates a user alert (`create_user_alert`), whose state the program sets with
  !> `log_alert`; the optional arguments as `create_metric_threshold_alert`.
  subroutine run_create_user_alert(this, name, description, notification, trigger_abort, &
       attach_to_run, id, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    character(*), intent(in), optional :: description
    integer, intent(in), optional :: notification
    logical, intent(in), optional :: trigger_abort, attach_to_run
    character(:), allocatable, intent(out), optional :: id
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_description
    character(kind=c_char) :: id_buf(SIMVUE_ID_BUFFER_SIZE)
    integer(c_int64_t) :: c_window, c_frequency
    integer(c_int32_t) :: c_aggregation, c_notification, c_abort, c_attach
    integer(c_int) :: rc
    if (present(description)) c_description = c_str(description)
    call alert_options(notification=notification, trigger_abort=trigger_abort, &
         attach_to_run=attach_to_run, c_window=c_window, c_frequency=c_frequency, &
         c_aggregation=c_aggregation, c_notification=c_notification, c_abort=c_abort, &
         c_attach=c_attach)
    id_buf(1) = c_null_char
    rc = c_run_create_user_alert(this%handle, c_str(name), opt_ptr(c_description), &
         c_notification, c_abort, c_attach, id_buf, size(id_buf, kind=c_size_t))
    if (present(id)) id = id_from_buf(id_buf, rc)
    call check(rc, this%handle, 'create_user_alert', stat, errmsg)
  end subroutine run_create_user_alert

  !> Sets the state of a user alert for this run (`log_alert`): give `identifier` (its id) or,
  !> online, `name`; `state` is SIMVUE_ALERT_STATE_OK or _CRITICAL (default _CRITICAL).
  subroutine run_log_alert(this, identifier, name, state, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in), optional :: identifier, name
    integer, intent(in), optional :: state
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_identifier, c_name
    integer(c_int32_t) :: c_state
    if (present(identifier)) c_identifier = c_str(identifier)
    if (present(name)) c_name = c_str(name)
    c_state = SIMVUE_ALERT_STATE_CRITICAL
    if (present(state)) c_state = int(state, c_int32_t)
    call check(c_run_log_alert(this%handle, opt_ptr(c_identifier), opt_ptr(c_name), c_state), &
         this%handle, 'log_alert', stat, errmsg)
  end subroutine run_log_alert

  !> Attaches existing alerts to the run (`add_alerts`), by `ids` and, online, by `names`.
  subroutine run_add_alerts(this, ids, names, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in), optional :: ids(:), names(:)
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    integer(c_int) :: rc
    if (present(ids) .and. present(names)) then
       rc = with_both(ids, names)
    else if (present(ids)) then
       rc = with_ids(ids)
    else if (present(names)) then
       rc = with_names(names)
    else
       rc = c_run_add_alerts(this%handle, c_null_ptr, 0_c_size_t, c_null_ptr, 0_c_size_t)
    end if
    call check(rc, this%handle, 'add_alerts', stat, errmsg)
  contains
    integer(c_int) function with_both(ids, names)
      character(*), intent(in) :: ids(:), names(:)
      character(kind=c_char), target :: ibuf(2 * len(ids) + 1, size(ids))
      character(kind=c_char), target :: nbuf(2 * len(names) + 1, size(names))
      type(c_ptr), target :: iptrs(max(1, size(ids))), nptrs(max(1, size(names)))
      call pack_strings(ids, ibuf, iptrs)
      call pack_strings(names, nbuf, nptrs)
      with_both = c_run_add_alerts(this%handle, c_loc(iptrs), size(ids, kind=c_size_t), &
           c_loc(nptrs), size(names, kind=c_size_t))
    end function with_both
    integer(c_int) function with_ids(ids)
      character(*), intent(in) :: ids(:)
      character(kind=c_char), target :: buf(2 * len(ids) + 1, size(ids))
      type(c_ptr), target :: ptrs(max(1, size(ids)))
      call pack_strings(ids, buf, ptrs)
      with_ids = c_run_add_alerts(this%handle, c_loc(ptrs), size(ids, kind=c_size_t), &
           c_null_ptr, 0_c_size_t)
    end function with_ids
    integer(c_int) function with_names(names)
      character(*), intent(in) :: names(:)
      character(kind=c_char), target :: buf(2 * len(names) + 1, size(names))
      type(c_ptr), target :: ptrs(max(1, size(names)))
      call pack_strings(names, buf, ptrs)
      with_names = c_run_add_alerts(this%handle, c_null_ptr, 0_c_size_t, c_loc(ptrs), &
           size(names, kind=c_size_t))
    end function with_names
  end subroutine run_add_alerts

  !> How many metric sets and events were dropped because a queue was full.
  subroutine run_dropped(this, metrics, events, stat, errmsg)
    class(simvue_run), intent(in) :: this
    integer(int64), intent(out), optional :: metrics, events
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    integer(c_int64_t) :: m, e
    integer(c_int) :: rc
    m = 0
    e = 0
    rc = c_run_dropped(this%handle, m, e)
    if (present(metrics)) metrics = int(m, int64)
    if (present(events)) events = int(e, int64)
    call check(rc, this%handle, 'dropped', stat, errmsg)
  end subroutine run_dropped

  !> How many metric sets and events were lost: written neither to the server nor to the
  !> offline cache (final after `close`; a run that lost data ends `lost`).
  subroutine run_lost_items(this, metrics, events, stat, errmsg)
    class(simvue_run), intent(in) :: this
    integer(int64), intent(out), optional :: metrics, events
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    integer(c_int64_t) :: m, e
    integer(c_int) :: rc
    m = 0
    e = 0
    rc = c_run_lost_items(this%handle, m, e)
    if (present(metrics)) metrics = int(m, int64)
    if (present(events)) events = int(e, int64)
    call check(rc, this%handle, 'lost_items', stat, errmsg)
  end subroutine run_lost_items

  !> Whether the run suppresses errors (`config`; on by default).
  logical function run_suppress_errors(this, stat, errmsg)
    class(simvue_run), intent(in) :: this
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    integer(c_int32_t) :: out
    out = 1
    call check(c_run_suppress_errors(this%handle, out), this%handle, 'suppress_errors', &
         stat, errmsg)
    run_suppress_errors = out /= 0
  end function run_suppress_errors

  !> Registers `callback` (removes it when absent), called once with `user_data` on the
  !> library's background thread when an abort is requested from the web UI. It should only set
  !> a flag; it must not call into the run.
  subroutine run_set_abort_callback(this, callback, user_data, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    procedure(simvue_abort_callback), optional :: callback
    type(c_ptr), intent(in), optional :: user_data
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    type(c_funptr) :: f
    type(c_ptr) :: data
    f = c_null_funptr
    data = c_null_ptr
    if (present(callback)) f = c_funloc(callback)
    if (present(user_data)) data = user_data
    call check(c_run_set_abort_callback(this%handle, f, data), this%handle, &
         'set_abort_callback', stat, errmsg)
  end subroutine run_set_abort_callback

  !> Whether an abort of the run was requested from the web UI (cheap: call it every step).
  logical function run_abort_requested(this, stat, errmsg)
    class(simvue_run), intent(in) :: this
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    integer(c_int32_t) :: out
    out = 0
    call check(c_run_abort_requested(this%handle, out), this%handle, 'abort_requested', &
         stat, errmsg)
    run_abort_requested = out /= 0
  end function run_abort_requested

  !> How often (seconds, > 0) an online run asks whether an abort was requested; before init.
  subroutine run_set_abort_poll_interval(this, seconds, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    real(real64), intent(in) :: seconds
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_abort_poll_interval(this%handle, real(seconds, c_double)), &
         this%handle, 'set_abort_poll_interval', stat, errmsg)
  end subroutine run_set_abort_poll_interval

  ! ------------------------------------------------------------------------------------------
  ! Signals that stop the job (walltime) and other abnormal ends.

  !> Chooses the signals the run handles (`'TERM,USR2'`, `'none'`; absent: TERM, INT, XCPU,
  !> USR1, USR2), what it does when one arrives (`SIMVUE_SIGNALS_EXIT`, the default: flush,
  !> mark the run `terminated`, close it and end the program by the signal;
  !> `SIMVUE_SIGNALS_NOTIFY`: only tell the program, see `signal_received`), and how long
  !> flushing and closing may take (seconds, default 10). Before `init`; the environment
  !> (SIMVUE_SIGNALS, SIMVUE_SIGNAL_ACTION, SIMVUE_SIGNAL_TIMEOUT) overrides it.
  subroutine run_set_signals(this, signals, action, deadline, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in), optional :: signals
    integer, intent(in), optional :: action
    real(real64), intent(in), optional :: deadline
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_signals
    integer(c_int32_t) :: c_action
    real(c_double) :: c_deadline
    if (present(signals)) c_signals = c_str(signals)
    c_action = KEEP
    if (present(action)) c_action = int(action, c_int32_t)
    c_deadline = -1.0_c_double
    if (present(deadline)) c_deadline = real(deadline, c_double)
    call check(c_run_set_signals(this%handle, opt_ptr(c_signals), c_action, c_deadline), &
         this%handle, 'set_signals', stat, errmsg)
  end subroutine run_set_signals

  !> Registers `callback` (removes it when absent), called with the signal number and
  !> `user_data` on the library's signal thread when one of the run's signals arrives, before
  !> the library acts on it: it may write a checkpoint. It must not close or free the run.
  subroutine run_set_signal_callback(this, callback, user_data, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    procedure(simvue_signal_callback), optional :: callback
    type(c_ptr), intent(in), optional :: user_data
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    type(c_funptr) :: f
    type(c_ptr) :: data
    f = c_null_funptr
    data = c_null_ptr
    if (present(callback)) f = c_funloc(callback)
    if (present(user_data)) data = user_data
    call check(c_run_set_signal_callback(this%handle, f, data), this%handle, &
         'set_signal_callback', stat, errmsg)
  end subroutine run_set_signal_callback

  !> The number of the first of the run's signals that arrived (10 for SIGUSR1 on Linux), or
  !> 0 (cheap: call it every step).
  integer function run_signal_received(this, stat, errmsg)
    class(simvue_run), intent(in) :: this
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    integer(c_int32_t) :: out
    out = 0
    call check(c_run_signal_received(this%handle, out), this%handle, 'signal_received', &
         stat, errmsg)
    run_signal_received = int(out)
  end function run_signal_received

  ! ------------------------------------------------------------------------------------------
  ! Where the run runs: shell variables, resources of a process without a run.

  !> The environment variables recorded as the metadata `shell` at `init`: `fnmatch` patterns
  !> (`'SLURM_*'`, `'OMP_NUM_THREADS'`), replacing `[run] record_shell_vars` of simvue.toml; an
  !> empty array records none. The batch job is recorded as `batch_job` without asking. Before
  !> `init`.
  subroutine run_set_record_shell_vars(this, patterns, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: patterns(:)
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char), target :: buf(2 * len(patterns) + 1, size(patterns))
    type(c_ptr), target :: ptrs(max(1, size(patterns)))
    call pack_strings(patterns, buf, ptrs)
    call check(c_run_set_record_shell_vars(this%handle, c_loc(ptrs), &
         size(patterns, kind=c_size_t)), this%handle, 'set_record_shell_vars', stat, errmsg)
  end subroutine run_set_record_shell_vars

  !> Energy and emissions logged with every resource sample (`[metrics]
  !> enable_emission_metrics`): `sustainability.energy_consumed.total` / `.delta` (kWh) and, with
  !> `[eco] co2_intensity`, `sustainability.emissions.total` / `.delta` (kg), measured (RAPL,
  !> NVML) or estimated as the Python client does. Needs resource metrics. Before `init`.
  subroutine run_set_emission_metrics(this, enable, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    logical, intent(in) :: enable
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_emission_metrics(this%handle, flag(enable)), this%handle, &
         'set_emission_metrics', stat, errmsg)
  end subroutine run_set_emission_metrics

  !> Silences the lines the library prints about the run at init (where it is) and close (what
  !> became of it); SIMVUE_QUIET=1 or 0 in the environment wins. Before `init`.
  subroutine run_set_quiet(this, quiet, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    logical, intent(in) :: quiet
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    call check(c_run_set_quiet(this%handle, flag(quiet)), this%handle, 'set_quiet', stat, &
         errmsg)
  end subroutine run_set_quiet

  !> Samples the process `pid` (0: this process) and its children: `cpu` receives their CPU use
  !> since the previous call for the same pid (the first call: since the process started), in
  !> percent of one core, and `memory` their resident memory in MiB. For a process that holds no
  !> run (an MPI rank; see `simvue_mpi_log_resources`).
  subroutine simvue_resources_sample(pid, cpu, memory, stat, errmsg)
    integer, intent(in) :: pid
    real(real64), intent(out) :: cpu, memory
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    real(c_double) :: c_cpu, c_memory
    c_cpu = 0
    c_memory = 0
    call check(c_resources_sample(int(pid, c_int64_t), c_cpu, c_memory), c_null_ptr, &
         'resources_sample', stat, errmsg)
    cpu = real(c_cpu, real64)
    memory = real(c_memory, real64)
  end subroutine simvue_resources_sample

  !> Closes every open run of the program now with `status` (`SIMVUE_STATUS_FAILED` or
  !> `SIMVUE_STATUS_TERMINATED`), logging `message` as an event of each first; for a program
  !> about to stop abnormally. (A program that ends with `error stop`, or another non-zero exit
  !> status, has its open runs closed as `failed` without it.)
  subroutine simvue_close_open_runs(status, message, stat, errmsg)
    integer, intent(in) :: status
    character(*), intent(in), optional :: message
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_message
    if (present(message)) c_message = c_str(message)
    call check(c_close_open_runs(int(status, c_int32_t), opt_ptr(c_message)), c_null_ptr, &
         'close_open_runs', stat, errmsg)
  end subroutine simvue_close_open_runs

  ! ------------------------------------------------------------------------------------------
  ! Saving files and data (artifacts).

  !> The C flags of the optional `snapshot` and `wait` arguments (both default .false.).
  pure integer(c_int32_t) function save_flags(snapshot, wait)
    logical, intent(in), optional :: snapshot, wait
    save_flags = 0
    if (present(snapshot)) then
       if (snapshot) save_flags = ior(save_flags, SAVE_SNAPSHOT)
    end if
    if (present(wait)) then
       if (wait) save_flags = ior(save_flags, SAVE_WAIT)
    end if
  end function save_flags

  pure integer(c_int32_t) function preserve(preserve_path)
    logical, intent(in), optional :: preserve_path
    preserve = 0
    if (present(preserve_path)) preserve = merge(1_c_int32_t, 0_c_int32_t, preserve_path)
  end function preserve

  !> Saves the file `filename` with the run, as `category` (SIMVUE_CATEGORY_INPUT, _OUTPUT,
  !> _CODE). `filetype`: a MIME type (default: guessed from the name); `preserve_path`: name the
  !> artifact by its path relative to the working directory (default: its base name); `name`:
  !> the artifact's name; `snapshot`: save a copy taken now; `wait`: return once it is saved;
  !> `metadata`: the artifact's metadata, a JSON object.
  subroutine run_save(this, filename, category, filetype, preserve_path, name, snapshot, wait, &
       metadata, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: filename
    integer, intent(in) :: category
    character(*), intent(in), optional :: filetype, name, metadata
    logical, intent(in), optional :: preserve_path, snapshot, wait
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_filetype, c_name, c_metadata
    if (present(filetype)) c_filetype = c_str(filetype)
    if (present(name)) c_name = c_str(name)
    if (present(metadata)) c_metadata = c_str(metadata)
    call check(c_run_save_ex(this%handle, c_str(filename), int(category, c_int32_t), &
         opt_ptr(c_filetype), preserve(preserve_path), opt_ptr(c_name), &
         save_flags(snapshot, wait), opt_ptr(c_metadata)), this%handle, 'save', stat, errmsg)
  end subroutine run_save

  !> Saves every regular file below `directory`; arguments as `save`. A file that cannot be
  !> saved does not stop the others (the first failure is reported).
  subroutine run_save_directory(this, directory, category, filetype, preserve_path, snapshot, &
       wait, stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: directory
    integer, intent(in) :: category
    character(*), intent(in), optional :: filetype
    logical, intent(in), optional :: preserve_path, snapshot, wait
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_filetype
    if (present(filetype)) c_filetype = c_str(filetype)
    call check(c_run_save_directory(this%handle, c_str(directory), int(category, c_int32_t), &
         opt_ptr(c_filetype), preserve(preserve_path), save_flags(snapshot, wait)), &
         this%handle, 'save_directory', stat, errmsg)
  end subroutine run_save_directory

  !> Saves the files and directories `paths`; arguments as `save_directory`.
  subroutine run_save_all(this, paths, category, filetype, preserve_path, snapshot, wait, &
       stat, errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: paths(:)
    integer, intent(in) :: category
    character(*), intent(in), optional :: filetype
    logical, intent(in), optional :: preserve_path, snapshot, wait
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char), target :: buf(2 * len(paths) + 1, size(paths))
    type(c_ptr), target :: ptrs(max(1, size(paths)))
    character(kind=c_char, len=:), allocatable, target :: c_filetype
    if (present(filetype)) c_filetype = c_str(filetype)
    call pack_strings(paths, buf, ptrs)
    call check(c_run_save_all(this%handle, c_loc(ptrs), size(paths, kind=c_size_t), &
         int(category, c_int32_t), opt_ptr(c_filetype), preserve(preserve_path), &
         save_flags(snapshot, wait)), this%handle, 'save_all', stat, errmsg)
  end subroutine run_save_all

  !> `save_bytes(name, data, category)`: saves data from memory as the artifact `name`: a
  !> string (all of it: data is not trimmed) or a one-dimensional array of real64, real32,
  !> int32 or int64 values (their bytes). `filetype` is a MIME type (default
  !> application/octet-stream); `wait`: return once it is saved; `metadata`: the artifact's
  !> metadata, a JSON object.
  subroutine save_bytes_chars(this, name, data, category, filetype, wait, metadata, stat, &
       errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    character(*), intent(in), target :: data
    integer, intent(in) :: category
    character(*), intent(in), optional :: filetype, metadata
    logical, intent(in), optional :: wait
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    type(c_ptr) :: p
    p = c_null_ptr
    if (len(data) > 0) p = c_loc(data)
    call save_bytes_impl(this%handle, name, p, int(len(data), c_size_t), category, filetype, &
         wait, metadata, stat, errmsg)
  end subroutine save_bytes_chars

  subroutine save_bytes_r64(this, name, data, category, filetype, wait, metadata, stat, &
       errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    real(real64), intent(in), target, contiguous :: data(:)
    integer, intent(in) :: category
    character(*), intent(in), optional :: filetype, metadata
    logical, intent(in), optional :: wait
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(data) > 0) p = c_loc(data)
    call save_bytes_impl(this%handle, name, p, size(data, kind=c_size_t) * storage_size(data) / 8, &
         category, filetype, wait, metadata, stat, errmsg)
  end subroutine save_bytes_r64

  subroutine save_bytes_r32(this, name, data, category, filetype, wait, metadata, stat, &
       errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    real(real32), intent(in), target, contiguous :: data(:)
    integer, intent(in) :: category
    character(*), intent(in), optional :: filetype, metadata
    logical, intent(in), optional :: wait
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(data) > 0) p = c_loc(data)
    call save_bytes_impl(this%handle, name, p, size(data, kind=c_size_t) * storage_size(data) / 8, &
         category, filetype, wait, metadata, stat, errmsg)
  end subroutine save_bytes_r32

  subroutine save_bytes_i32(this, name, data, category, filetype, wait, metadata, stat, &
       errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    integer(int32), intent(in), target, contiguous :: data(:)
    integer, intent(in) :: category
    character(*), intent(in), optional :: filetype, metadata
    logical, intent(in), optional :: wait
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(data) > 0) p = c_loc(data)
    call save_bytes_impl(this%handle, name, p, size(data, kind=c_size_t) * storage_size(data) / 8, &
         category, filetype, wait, metadata, stat, errmsg)
  end subroutine save_bytes_i32

  subroutine save_bytes_i64(this, name, data, category, filetype, wait, metadata, stat, &
       errmsg)
    class(simvue_run), intent(inout) :: this
    character(*), intent(in) :: name
    integer(int64), intent(in), target, contiguous :: data(:)
    integer, intent(in) :: category
    character(*), intent(in), optional :: filetype, metadata
    logical, intent(in), optional :: wait
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(data) > 0) p = c_loc(data)
    call save_bytes_impl(this%handle, name, p, size(data, kind=c_size_t) * storage_size(data) / 8, &
         category, filetype, wait, metadata, stat, errmsg)
  end subroutine save_bytes_i64

  subroutine save_bytes_impl(handle, name, data, nbytes, category, filetype, wait, metadata, stat, &
       errmsg)
    type(c_ptr), intent(in) :: handle, data
    character(*), intent(in) :: name
    integer(c_size_t), intent(in) :: nbytes
    integer, intent(in) :: category
    character(*), intent(in), optional :: filetype, metadata
    logical, intent(in), optional :: wait
    integer, intent(out), optional :: stat
    character(*), intent(inout), optional :: errmsg
    character(kind=c_char, len=:), allocatable, target :: c_filetype, c_metadata
    if (present(filetype)) c_filetype = c_str(filetype)
    if (present(metadata)) c_metadata = c_str(metadata)
    call check(c_run_save_bytes_ex(handle, c_str(name), data, nbytes, int(category, c_int32_t), &
         opt_ptr(c_filetype), save_flags(wait=wait), opt_ptr(c_metadata)), handle, 'save_bytes', &
         stat, errmsg)
  end subroutine save_bytes_impl

end module simvue
