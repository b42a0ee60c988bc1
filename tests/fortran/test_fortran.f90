!> Tests of the `simvue` Fortran module (run by check_fortran.py, which also checks the offline
!> cache this program writes). Prints `RUN <label> <id>` for each run, `FAIL ...` for each failed
!> check, and `done <failures>` at the end.
program test_fortran
  use, intrinsic :: iso_fortran_env, only: int32, int64, real32, real64
  use simvue
  implicit none

  integer :: failures = 0
  type(simvue_run) :: run, other, never
  character(len=200) :: errmsg
  character(len=:), allocatable :: id
  integer :: stat
  integer(int64) :: dropped_metrics, dropped_events
  integer :: unit

  call check(len(simvue_version()) > 0, 'simvue_version')
  call check(simvue_result_name(SIMVUE_ERROR_CLOSED) == 'SIMVUE_ERROR_CLOSED', 'result_name')

  ! Absent optional arguments: init with none at all, calls with only the required ones.
  call run%new(SIMVUE_MODE_OFFLINE, stat=stat)
  call check(stat == SIMVUE_OK, 'new')
  call check(run%is_associated(), 'new: associated')
  call run%config(disable_resources_metrics=.true., stat=stat)
  call check(stat == SIMVUE_OK, 'config with one argument')
  call run%set_signals(stat=stat)
  call check(stat == SIMVUE_OK, 'set_signals without arguments')
  call run%set_signals('TERM, USR2   ', SIMVUE_SIGNALS_NOTIFY, 2.5_real64, stat=stat)
  call check(stat == SIMVUE_OK, 'set_signals with every argument, trailing blanks')
  call run%set_signals('KILL', stat=stat, errmsg=errmsg)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'set_signals: an unknown signal')
  call run%set_signals(deadline=0.0_real64, stat=stat)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'set_signals: a deadline of 0')
  call run%set_signal_callback(stat=stat)
  call check(stat == SIMVUE_OK, 'set_signal_callback without a callback')
  call check(run%signal_received() == 0, 'signal_received')
  call run%set_record_shell_vars([character(len=12) :: 'SLURM_*', 'OMP_NUM_*'], stat=stat)
  call check(stat == SIMVUE_OK, 'set_record_shell_vars')
  call run%set_emission_metrics(.true., stat=stat)
  call check(stat == SIMVUE_ERROR_STATE, 'set_emission_metrics: resource metrics are off')
  call run%set_quiet(.false., stat=stat)
  call check(stat == SIMVUE_OK, 'set_quiet')
  call run%config(abort_on_alert=7, stat=stat)
  call check(stat == SIMVUE_ERROR_UNKNOWN_ENUM, 'config with an unknown abort policy')
  call run%init(stat=stat)
  call check(stat == SIMVUE_OK, 'init without arguments')
  call run%config(abort_on_alert=SIMVUE_ABORT_ON_ALERT_IGNORE, stat=stat)
  call check(stat == SIMVUE_OK, 'the abort policy may be set after init')
  call check(len(run%name()) > 0, 'random name')
  print '(2a)', 'RUN defaults ', run%id()
  call run%log_metrics(['a'], [1.0_real64], stat=stat)
  call check(stat == SIMVUE_OK, 'log_metrics without step/time/timestamp')
  call run%log_event('plain event', stat=stat)
  call check(stat == SIMVUE_OK, 'log_event without timestamp/level')
  call run%add_alert('events-alert', SIMVUE_ALERT_SOURCE_EVENTS, 1, pattern='boom', stat=stat)
  call check(stat == SIMVUE_OK, 'add_alert with the required arguments and a pattern')
  call run%set_folder_details(stat=stat)
  call check(stat == SIMVUE_OK, 'set_folder_details without arguments')
  call check(run%suppress_errors(), 'suppress_errors is on by default')
  call check(.not. run%abort_requested(), 'abort_requested')
  call run%dropped(dropped_metrics, dropped_events, stat=stat)
  call check(stat == SIMVUE_OK .and. dropped_metrics == 0 .and. dropped_events == 0, 'dropped')
  call run%lost_items(dropped_metrics, dropped_events, stat=stat)
  call check(stat == SIMVUE_OK .and. dropped_metrics == 0 .and. dropped_events == 0, 'lost_items')
  call run%close(stat=stat)
  call check(stat == SIMVUE_OK, 'close')

  ! A closed run: stat receives SIMVUE_ERROR_CLOSED and errmsg the message; queries still work.
  errmsg = 'untouched'
  call run%log_metrics(['a'], [2.0_real64], stat=stat, errmsg=errmsg)
  call check(stat == SIMVUE_ERROR_CLOSED, 'stat on a closed run')
  call check(index(errmsg, 'closed') > 0, 'errmsg on a closed run: ' // trim(errmsg))
  call run%log_event('late', stat=stat)
  call check(stat == SIMVUE_ERROR_CLOSED, 'log_event on a closed run')
  call run%close(stat=stat)
  call check(stat == SIMVUE_ERROR_CLOSED, 'close twice')
  id = run%id(stat=stat)
  call check(len(id) > 0, 'id after close')
  call check(stat == SIMVUE_OK, 'id after close: stat')
  ! Without stat, suppress_errors on: printed, and the program goes on.
  call run%log_metrics(['a'], [3.0_real64])
  print '(a)', 'continued after a suppressed error'
  call run%free()
  call check(.not. run%is_associated(), 'free')
  call run%free() ! twice: nothing

  ! A run that was never created.
  call never%log_event('x', stat=stat)
  call check(stat == SIMVUE_ERROR_NULL_ARGUMENT, 'stat on a run never created')

  ! Trailing blanks are trimmed, leading ones kept; every metadata kind; explicit step/time.
  call run%new(SIMVUE_MODE_OFFLINE, server_url='http://127.0.0.1:1   ', server_token='t  ')
  call run%config(disable_resources_metrics=.true., queue_blocking=.true.)
  call run%set_metadata('int32   ', 7_int32)
  call run%set_metadata('int64', 8000000000_int64)
  call run%set_metadata('real32', 0.5_real32)
  call run%set_metadata('real64', 0.0_real64)
  call run%set_metadata('logical', .true.)
  call run%set_metadata('string', '  leading kept, trailing trimmed   ')
  call run%init(name='trim-test   ', metadata='{"json": 1}   ', &
       tags=[character(len=6) :: 'a', 'bb', 'ccc   '], description='described   ', &
       folder='/fortran/trim   ', notification=SIMVUE_NOTIFY_ERROR, retention_period='30m  ', &
       timeout=SIMVUE_NO_TIMEOUT, visibility=SIMVUE_VISIBILITY_USERS, &
       users=[character(len=8) :: 'alice', 'bob'], record_shell_vars=['HOME  '], stat=stat)
  call check(stat == SIMVUE_OK, 'init with every argument')
  call check(run%name() == 'trim-test', 'name trimmed: "' // run%name() // '"')
  print '(2a)', 'RUN trim ', run%id()
  errmsg = 'untouched'
  call run%log_metrics([character(len=10) :: 'm1', 'm2   '], [1.0_real64, 2.0_real64], step=5, &
       time=1.5_real64, timestamp='2024-01-02 03:04:05.000006   ', stat=stat, errmsg=errmsg)
  call check(stat == SIMVUE_OK .and. errmsg == 'untouched', 'log_metrics, errmsg untouched')
  call run%log_metrics(['m3'], [3.0_real32], step=6)
  call run%log_metric('m4  ', 4.0_real64, step=7)
  call run%log_metrics('m5', 5.0_real32, step=8)
  call run%log_metrics(['m1', 'm2'], [1.0_real64], stat=stat, errmsg=errmsg)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'names and values of different sizes')
  call run%log_metrics(['  '], [1.0_real64], stat=stat)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'a blank metric name is empty')
  ! A char(0) inside a string is refused, never silently cut there (issue 11, item 9).
  errmsg = ''
  call run%log_event('before' // char(0) // 'after', stat=stat, errmsg=errmsg)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'an event with an embedded NUL')
  call check(index(errmsg, 'NUL') > 0, 'the message names the NUL: ' // trim(errmsg))
  call run%log_metrics([character(len=4) :: 'ok', 'a' // char(0) // 'b'], &
       [1.0_real64, 2.0_real64], stat=stat)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'a metric name with an embedded NUL')
  call run%set_metadata('k' // char(0), 1, stat=stat)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'a metadata key with an embedded NUL')
  call run%log_event('event with blanks   ', level=SIMVUE_LOG_WARNING)
  call run%set_tags([character(len=8) :: 'replaced', 'later  '], stat=stat)
  call check(stat == SIMVUE_OK, 'set_tags')
  call run%set_tags([character(len=8) :: 'a', 'bb', 'ccc'])
  call run%update_tags([character(len=8) :: 'later   '])
  call run%update_metadata('{"updated": true}   ')
  call run%add_alert('above', SIMVUE_ALERT_SOURCE_METRICS, 2, rule=SIMVUE_ALERT_RULE_IS_ABOVE, &
       metric='m1  ', threshold=10.0_real64, id=id, stat=stat)
  call check(stat == SIMVUE_OK, 'add_alert with an id')
  call check(index(id, 'offline_') == 1, 'add_alert id ' // id)
  call run%add_alert('no-rule', SIMVUE_ALERT_SOURCE_METRICS, 2, metric='m1', stat=stat)
  call check(stat == SIMVUE_ERROR_UNKNOWN_ENUM, 'a metrics alert without a rule')
  ! The create_*_alert procedures: options absent (Python's defaults) or given.
  call run%create_metric_threshold_alert('th  ', 'm1  ', 2.0_real64, SIMVUE_ALERT_RULE_IS_BELOW, &
       description='dd  ', window=3, frequency=2, aggregation=SIMVUE_AGGREGATION_AT_LEAST_ONE, &
       notification=SIMVUE_NOTIFICATION_EMAIL, trigger_abort=.true., attach_to_run=.false., &
       id=id, stat=stat)
  call check(stat == SIMVUE_OK .and. index(id, 'offline_') == 1, 'create_metric_threshold_alert')
  call run%add_alerts(ids=[id], stat=stat)
  call check(stat == SIMVUE_OK, 'add_alerts by id')
  call run%add_alerts(names=['th'], stat=stat)
  call check(stat == SIMVUE_ERROR_UNSUPPORTED, 'add_alerts by name offline')
  call run%create_metric_range_alert('rg', 'm1', 1.0_real64, 2.0_real64, &
       SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE, stat=stat)
  call check(stat == SIMVUE_OK, 'create_metric_range_alert with the defaults')
  call run%create_metric_range_alert('bad', 'm1', 2.0_real64, 1.0_real64, &
       SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE, stat=stat)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'create_metric_range_alert: low > high')
  call run%create_event_alert('ev', 'boom  ', description='evd', stat=stat)
  call check(stat == SIMVUE_OK, 'create_event_alert')
  call run%create_user_alert('ua', description='user alert', id=id, stat=stat)
  call check(stat == SIMVUE_OK, 'create_user_alert')
  call run%log_alert(identifier=id, stat=stat)
  call check(stat == SIMVUE_OK, 'log_alert by id, state critical by default')
  call run%log_alert(stat=stat)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'log_alert without id or name')
  call run%log_alert(identifier=id, state=7, stat=stat)
  call check(stat == SIMVUE_ERROR_UNKNOWN_ENUM, 'log_alert with an unknown state')
  call run%set_folder_details(metadata='{"f": 1}', tags=[character(len=3) :: 'x  ', 'y'], &
       description='folder   ')
  ! Saving: a file (name trimmed), a missing one, data from memory (not trimmed), lists, folders.
  open (newunit=unit, file='input.txt', status='replace', action='write')
  write (unit, '(a)') 'hello'
  close (unit)
  call execute_command_line('mkdir -p outdir && echo data > outdir/result.txt')
  call run%save('input.txt   ', SIMVUE_CATEGORY_INPUT, metadata='{"kind": "deck"}  ', stat=stat)
  call check(stat == SIMVUE_OK, 'save')
  call run%set_metric_units('m1', 'km', stat=stat)
  call check(stat == SIMVUE_OK, 'set_metric_units')
  call run%set_metric_units('m2', 'weird', mks_unit='m', mks_conversion=2.0_real64, stat=stat)
  call check(stat == SIMVUE_OK, 'set_metric_units with the MKS unit and factor')
  call run%log_metrics(['m1'], [1.5_real64], step=9)
  call run%assign_metric_to_grid('field', x_ticks=[0.0_real64, 1.0_real64, 2.0_real64], &
       y_ticks=[0.0_real64, 1.0_real64], axes_labels=['x', 'y'], stat=stat)
  call check(stat == SIMVUE_OK, 'assign_metric_to_grid')
  call run%assign_metric_to_grid('field2', x_ticks=[0.0_real64], axes_labels=['x', 'y'], stat=stat)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'assign_metric_to_grid: labels and axes differ')
  call run%log_metrics('field', reshape([1.0_real64, 2.0_real64, 3.0_real64, 4.0_real64, &
       5.0_real64, 6.0_real64], [3, 2]), step=10, stat=stat)
  call check(stat == SIMVUE_OK, 'log_metrics of a 2-D array')
  call run%log_metrics('field', reshape([1.0_real64, 2.0_real64], [2, 1]), stat=stat)
  call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'log_metrics of an array of the wrong shape')
  call run%save('missing.txt', SIMVUE_CATEGORY_INPUT, stat=stat)
  call check(stat /= SIMVUE_OK, 'save a missing file fails')
  call run%save_bytes('field.bin', [1.0_real64, 2.0_real64, 3.0_real64], SIMVUE_CATEGORY_OUTPUT, &
       wait=.true., stat=stat)
  call check(stat == SIMVUE_OK, 'save_bytes of a real64 array')
  call run%save_bytes('ints.bin', [1_int32, 2_int32], SIMVUE_CATEGORY_OUTPUT, &
       metadata='{"n": 2}', stat=stat)
  call check(stat == SIMVUE_OK, 'save_bytes of an int32 array')
  call run%save_bytes('note.txt', 'text  ', SIMVUE_CATEGORY_OUTPUT, filetype='text/plain', &
       stat=stat)
  call check(stat == SIMVUE_OK, 'save_bytes of a string')
  call run%save_all([character(len=12) :: 'input.txt'], SIMVUE_CATEGORY_CODE, snapshot=.true., &
       stat=stat)
  call check(stat == SIMVUE_OK, 'save_all')
  call run%save_directory('outdir', SIMVUE_CATEGORY_OUTPUT, stat=stat)
  call check(stat == SIMVUE_OK, 'save_directory')
  call run%save('input.txt', 42, stat=stat)
  call check(stat == SIMVUE_ERROR_UNKNOWN_ENUM, 'save with an unknown category')

  other = run ! a copy names the same run
  call other%set_status(SIMVUE_STATUS_TERMINATED)
  call run%close()
  call run%free()
  ! The copy still holds the freed run's handle: an error, not a read of freed memory.
  call other%log_event('after free', stat=stat)
  call check(stat == SIMVUE_ERROR_INVALID_HANDLE, 'a copy of a freed run: INVALID_HANDLE')
  call other%free() ! freed already: nothing

  ! Disabled: everything succeeds, the name is empty.
  call run%new(SIMVUE_MODE_DISABLED)
  call run%init(name='ignored', stat=stat)
  call check(stat == SIMVUE_OK, 'disabled run: init')
  call check(run%name() == '', 'disabled run: empty name')
  call run%free()
  call simvue_close_open_runs(9, stat=stat)
  call check(stat == SIMVUE_ERROR_UNKNOWN_ENUM, 'close_open_runs: an unknown status')
  call simvue_close_open_runs(SIMVUE_STATUS_FAILED, 'nothing open', stat=stat)
  call check(stat == SIMVUE_OK, 'close_open_runs with no run open')
  block
    real(real64) :: cpu, memory
    call simvue_resources_sample(0, cpu, memory, stat=stat)
    call check(stat == SIMVUE_OK .and. cpu >= 0 .and. memory > 0, 'resources_sample')
    call simvue_resources_sample(-4, cpu, memory, stat=stat)
    call check(stat == SIMVUE_ERROR_INVALID_ARGUMENT, 'resources_sample: a bad pid')
  end block

  print '(a,i0)', 'done ', failures

contains

  subroutine check(ok, what)
    logical, intent(in) :: ok
    character(*), intent(in) :: what
    if (.not. ok) then
       failures = failures + 1
       print '(2a)', 'FAIL ', what
    end if
  end subroutine check

end program test_fortran
