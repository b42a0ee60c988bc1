!> With suppress_errors off, a failing call without `stat` stops the program (error stop) with
!> the message; a run still open then is closed as `failed`, since the program's exit status is
!> not 0 (run by check_fortran.py).
program test_fortran_stop
  use, intrinsic :: iso_fortran_env, only: real64
  use simvue
  implicit none
  type(simvue_run) :: run, open_run
  call open_run%new(SIMVUE_MODE_OFFLINE)
  call open_run%config(disable_resources_metrics=.true.)
  call open_run%init(name='left-open')
  call open_run%log_metrics(['b'], [2.0_real64])
  call run%new(SIMVUE_MODE_OFFLINE)
  call run%config(suppress_errors=.false., disable_resources_metrics=.true.)
  call run%init(name='stop-test')
  call run%close()
  call run%log_metrics(['a'], [1.0_real64]) ! the run is closed: error stop
  print '(a)', 'not reached'
end program test_fortran_stop
