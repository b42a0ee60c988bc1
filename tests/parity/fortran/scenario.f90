!> The comparison scenario of tests/parity/test_scenario.py through the Fortran module, as
!> tests/parity/py/scenario.py does it through the Python client. Arrays are Fortran's own:
!> plate(x, y).
program scenario
  use, intrinsic :: iso_fortran_env, only: real64
  use simvue
  implicit none
  type(simvue_run) :: run
  real(real64), parameter :: rod(5) = [0.0_real64, 0.25_real64, 0.5_real64, 0.75_real64, 1.0_real64]
  real(real64) :: t(5), plate(3, 2)
  integer :: stat, failures, n, i, j
  failures = 0
  call run%new(SIMVUE_MODE_ONLINE)
  call run%config(suppress_errors=.false., queue_blocking=.true., disable_resources_metrics=.true., &
       stat=stat)
  call note('config', stat)
  call run%config(abort_on_alert=SIMVUE_ABORT_ON_ALERT_IGNORE, stat=stat)
  call note('abort_policy', stat)
  call run%init(name='parity', metadata='{"nx": 5, "scheme": "ftcs"}', tags=['a', 'b'], &
       description='the parity scenario', folder='/parity/all', notification=SIMVUE_NOTIFY_ERROR, &
       retention_period='2 days', timeout=300, visibility=SIMVUE_VISIBILITY_TENANT, &
       record_shell_vars=['PARITY_SHELL_*'], stat=stat)
  call note('init', stat)
  print '(2a)', 'run_id=', run%id()
  call run%update_metadata('{"dt": 0.5}', stat=stat)
  call note('metadata', stat)
  call run%update_tags(['c'], stat=stat)
  call note('update_tags', stat)
  call run%set_tags(['a', 'b', 'c', 'd'], stat=stat)
  call note('set_tags', stat)
  call run%set_folder_details(metadata='{"project": "parity"}', tags=['f'], description='folder', &
       stat=stat)
  call note('folder', stat)
  call run%create_metric_threshold_alert('residual-high', 'residual', 1.0_real64, &
       SIMVUE_ALERT_RULE_IS_ABOVE, description='too high', window=2, frequency=2, &
       aggregation=SIMVUE_AGGREGATION_SUM, notification=SIMVUE_NOTIFICATION_EMAIL, stat=stat)
  call note('threshold', stat)
  call run%create_metric_range_alert('t-range', 't_max', 0.0_real64, 100.0_real64, &
       SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE, aggregation=SIMVUE_AGGREGATION_AT_LEAST_ONE, &
       attach_to_run=.false., stat=stat)
  call note('range', stat)
  call run%create_event_alert('diverged', 'diverged', frequency=3, stat=stat)
  call note('events', stat)
  call run%create_user_alert('manual', description='set by the solver', stat=stat)
  call note('user', stat)
  call run%add_alerts(names=['t-range'], stat=stat)
  call note('add_alerts', stat)
  call run%log_alert(name='manual', state=SIMVUE_ALERT_STATE_CRITICAL, stat=stat)
  call note('log_alert', stat)
  call run%set_metric_units('residual', '1/s', stat=stat)
  call note('units_r', stat)
  call run%set_metric_units('t_max', 'degC', stat=stat)
  call note('units_t', stat)
  call run%assign_metric_to_grid('T', grid_name='rod', x_ticks=rod, axes_labels=['x'], stat=stat)
  call note('grid_rod', stat)
  call run%assign_metric_to_grid('plate', grid_name='plate', &
       x_ticks=[0.0_real64, 1.0_real64, 2.0_real64], y_ticks=[0.0_real64, 1.0_real64], &
       axes_labels=['x', 'y'], stat=stat)
  call note('grid_plate', stat)
  do n = 0, 2
     t = 100.0_real64 * (1 - abs(2 * rod - 1)) / (n + 1)
     do j = 1, 2
        do i = 1, 3
           plate(i, j) = n + (i - 1) + 10 * (j - 1)
        end do
     end do
     call run%log_metrics([character(8) :: 'residual', 't_max'], [1.0_real64 / (n + 1), maxval(t)], &
          step=n, stat=stat)
     call note('log', stat)
     call run%log_metrics('T', t, step=n, stat=stat)
     call note('log_T', stat)
     call run%log_metrics('plate', plate, step=n, stat=stat)
     call note('log_plate', stat)
  end do
  call run%log_event('converged', stat=stat)
  call note('event', stat)
  call run%log_event('careful', level=SIMVUE_LOG_WARNING, stat=stat)
  call note('event_w', stat)
  call run%save('deck.in', SIMVUE_CATEGORY_INPUT, metadata='{"kind": "deck"}', stat=stat)
  call note('save', stat)
  call run%save_bytes('summary', '{"ok": true}', SIMVUE_CATEGORY_OUTPUT, filetype='application/json', &
       metadata='{"kind": "summary"}', stat=stat)
  call note('save_bytes', stat)
  call run%close(stat=stat)
  call note('close', stat)
  call run%free()
  print '(a)', 'DONE'
  if (failures > 0) error stop 1
contains
  subroutine note(what, stat)
    character(*), intent(in) :: what
    integer, intent(in) :: stat
    if (stat /= SIMVUE_OK) then
       print '(4a)', 'rc_', what, '=', simvue_result_name(stat)
       failures = failures + 1
    end if
  end subroutine note
end program scenario
