! A Fortran program using the installed libsimvue through the `simvue` module.
program consumer_f
  use, intrinsic :: iso_fortran_env, only: real64
  use simvue
  implicit none
  type(simvue_run) :: run
  integer :: stat
  call run%new(SIMVUE_MODE_OFFLINE, stat=stat)
  if (stat == SIMVUE_OK) call run%init(name='consumer-f', tags=['consumer', 'fortran '], &
       folder='/consumer', stat=stat)
  if (stat == SIMVUE_OK) call run%log_metrics(['x'], [1.5_real64], stat=stat)
  if (stat == SIMVUE_OK) call run%close(stat=stat)
  call run%free()
  if (stat /= SIMVUE_OK) error stop 'consumer_f: FAILED'
  print '(3a)', 'consumer_f: simvue ', simvue_version(), ' ok'
end program consumer_f
