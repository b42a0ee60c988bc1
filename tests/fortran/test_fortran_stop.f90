!> With suppress_errors off, a failing call without `stat` stops the program (error stop) with
!> the message (run by check_fortran.py).
program test_fortran_stop
  use, intrinsic :: iso_fortran_env, only: real64
  use simvue
  implicit none
  type(simvue_run) :: run
  call run%new(SIMVUE_MODE_OFFLINE)
  call run%config(suppress_errors=.false., disable_resources_metrics=.true.)
  call run%init(name='stop-test')
  call run%close()
  call run%log_metrics(['a'], [1.0_real64]) ! the run is closed: error stop
  print '(a)', 'not reached'
end program test_fortran_stop
