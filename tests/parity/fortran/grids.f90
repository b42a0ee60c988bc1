!> Tensor metrics through the Fortran module, the scenario of tests/parity/c/grids.c with
!> column-major arrays: T(x, y) is the C program's T[y][x]. The mode comes from SIMVUE_MODE.
program grids
  use, intrinsic :: iso_fortran_env, only: real64
  use simvue
  implicit none
  type(simvue_run) :: run
  real(real64) :: t(3, 2)
  integer :: stat, failures
  failures = 0
  call run%new(SIMVUE_MODE_ONLINE)
  call run%config(suppress_errors=.false., queue_blocking=.true., disable_resources_metrics=.true.)
  call run%init(name='grids', folder='/parity/grids')
  print '(2a)', 'run_id=', run%id()
  t(:, 1) = [0.0_real64, 1.0_real64, 2.0_real64]
  t(:, 2) = [3.0_real64, 4.0_real64, 5.0_real64]
  call run%assign_metric_to_grid('T', grid_name='mesh', x_ticks=[0.0_real64, 0.5_real64, 1.0_real64], &
       y_ticks=[0.0_real64, 1.0_real64], axes_labels=['x', 'y'], stat=stat)
  call note('assign_T', stat)
  call run%assign_metric_to_grid('rho', grid_name='mesh', stat=stat)
  call note('assign_rho', stat)
  call run%log_metrics('T', t, step=0, stat=stat)
  call note('log_T', stat)
  call run%log_metrics(['s'], [1.0_real64], step=0, stat=stat)
  call note('log_s', stat)
  call run%log_metrics('rho', 2.0_real64 * t, step=5, time=1.5_real64, stat=stat)
  call note('log_rho', stat)
  call run%log_metrics('prof', [1.0_real64, 2.0_real64, 3.0_real64, 4.0_real64], step=2, stat=stat)
  call note('log_prof', stat)
  call run%close()
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
end program grids
