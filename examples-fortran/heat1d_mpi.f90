!> heat1d_mpi: examples-c/heat1d_mpi.c in Fortran: the heat1d solver with the rod split between
!> MPI ranks (halo exchange each step), tracked by rank 0 only.
!>
!> Rank 0 owns the run. Each rank computes its own residual and maximum temperature; the
!> optional helper module `simvue_mpi` reduces them over the ranks and rank 0 logs
!> residual.{min,max,mean,sum} and t_max.{min,max,mean,sum}. The other ranks hold no run and
!> write nothing.
!>
!> Usage: mpirun -np 4 heat1d_mpi_f [nx] [steps]
program heat1d_mpi
  use, intrinsic :: iso_fortran_env, only: error_unit, int64, real64
  use mpi_f08
  use simvue
  use simvue_mpi, only: simvue_mpi_log_reduced, simvue_mpi_record_context, &
       simvue_mpi_log_resources
  implicit none

  integer, parameter :: dp = real64
  real(dp), parameter :: pi = 3.14159265358979323846_dp
  real(dp), parameter :: alpha = 0.01_dp
  character(len=8), parameter :: names(2) = [character(len=8) :: 'residual', 't_max']

  type(simvue_run) :: run
  real(dp), allocatable :: u(:), un(:)
  real(dp) :: dx, dt, t, residual, tmax
  integer :: rank, nranks, nx, steps, lo, hi, m, left, right, i, j, n
  character(len=128) :: msg

  call MPI_Init()
  call MPI_Comm_rank(MPI_COMM_WORLD, rank)
  call MPI_Comm_size(MPI_COMM_WORLD, nranks)

  nx = int_arg(1, 64)
  steps = int_arg(2, 2000)
  if (nx < nranks + 2 .or. steps < 1) then
     if (rank == 0) write (error_unit, '(a)') 'usage: heat1d_mpi [nx >= ranks + 2] [steps >= 1]'
     call MPI_Finalize()
     stop 2
  end if
  dx = 1.0_dp / (nx - 1)
  dt = 0.4_dp * dx * dx / alpha

  ! This rank's points [lo, hi) of the global 0..nx-1, stored at 1..m with halos 0 and m+1.
  lo = int(int(nx, int64) * rank / nranks)
  hi = int(int(nx, int64) * (rank + 1) / nranks)
  m = hi - lo
  allocate (u(0:m + 1), un(0:m + 1))
  u = 0
  un = 0
  do j = 1, m
     u(j) = 100.0_dp * sin(pi * (lo + j - 1) * dx)
  end do
  left = merge(rank - 1, MPI_PROC_NULL, rank > 0)
  right = merge(rank + 1, MPI_PROC_NULL, rank < nranks - 1)

  if (rank == 0) then
     call run%new(SIMVUE_MODE_OFFLINE)
     call run%config(queue_blocking=.true., disable_resources_metrics=.true.)
     call run%set_metadata('nx', nx)
     call run%set_metadata('ranks', nranks)
     call run%set_metadata('alpha', alpha)
     call run%init(name='heat-1d-mpi', metadata='{"language": "Fortran"}', &
          tags=[character(len=4) :: 'heat', '1d', 'mpi'], &
          description='1-D heat equation, MPI', folder='/examples/heat')
     call run%log_event('starting time loop')
  end if
  ! Collective: rank 0 records the job's size (ranks, hosts) in its run.
  call simvue_mpi_record_context(run, MPI_COMM_WORLD)

  t = 0
  do n = 0, steps - 1
     call MPI_Sendrecv(u(1), 1, MPI_DOUBLE_PRECISION, left, 0, u(m + 1), 1, &
          MPI_DOUBLE_PRECISION, right, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE)
     call MPI_Sendrecv(u(m), 1, MPI_DOUBLE_PRECISION, right, 1, u(0), 1, &
          MPI_DOUBLE_PRECISION, left, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE)
     residual = 0
     tmax = 0
     do j = 1, m
        i = lo + j - 1
        if (i == 0 .or. i == nx - 1) then
           un(j) = 0
           cycle
        end if
        un(j) = u(j) + alpha * dt / (dx * dx) * (u(j + 1) - 2.0_dp * u(j) + u(j - 1))
        residual = max(residual, abs(un(j) - u(j)))
        tmax = max(tmax, un(j))
     end do
     u = un
     t = t + dt
     if (mod(n, 10) == 0 .or. n == steps - 1) then
        ! Collective: every rank calls it; only rank 0 logs.
        call simvue_mpi_log_reduced(run, MPI_COMM_WORLD, names, [residual, tmax], step=n)
     end if
     if (mod(n, 100) == 0) then
        ! Collective: the CPU and memory of every rank, summed and maximised on rank 0.
        call simvue_mpi_log_resources(run, MPI_COMM_WORLD, step=n)
     end if
  end do

  if (rank == 0) then
     write (msg, '(a,i0,a,i0,a,f0.4)') 'finished ', steps, ' steps on ', nranks, ' ranks, t = ', t
     call run%log_event(trim(msg))
     call run%set_status(SIMVUE_STATUS_COMPLETED)
     call run%close()
     call run%free()
     write (*, '(i0,a,f0.4)') nranks, ' ranks, t = ', t
  end if
  call MPI_Finalize()

contains

  integer function int_arg(k, default)
    integer, intent(in) :: k, default
    character(len=32) :: arg
    integer :: ios
    int_arg = default
    if (command_argument_count() < k) return
    call get_command_argument(k, arg)
    read (arg, *, iostat=ios) int_arg
    if (ios /= 0) int_arg = 0
  end function int_arg

end program heat1d_mpi
