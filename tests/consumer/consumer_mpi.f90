! The installed Fortran MPI helper (module simvue_mpi) compiles and links.
program consumer_mpi_f
  use, intrinsic :: iso_fortran_env, only: real64
  use mpi_f08
  use simvue
  use simvue_mpi
  implicit none
  type(simvue_run) :: run
  integer :: rank, stat
  call MPI_Init()
  call MPI_Comm_rank(MPI_COMM_WORLD, rank)
  if (rank == 0) call run%new(SIMVUE_MODE_DISABLED)
  call simvue_mpi_log_reduced(run, MPI_COMM_WORLD, ['x'], [real(rank, real64)], stat=stat)
  call run%free()
  call MPI_Finalize()
  if (stat /= SIMVUE_OK) error stop 1
end program consumer_mpi_f
