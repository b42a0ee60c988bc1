!> Optional MPI helper for the `simvue` module: built only where MPI's Fortran bindings are found
!> (libsimvue itself never links MPI), as the library simvue_fortran_mpi (CMake target
!> simvue::fortran_mpi).
!>
!> One rank (rank 0 of the communicator) owns the run; the others hold no run at all. Each step,
!> every rank calls `simvue_mpi_log_reduced` with its own values of some metrics; rank 0 logs
!> their minimum, maximum, mean and sum over the ranks as `<name>.min`, `<name>.max`,
!> `<name>.mean` and `<name>.sum`, in one set of metrics.
module simvue_mpi
  use, intrinsic :: iso_fortran_env, only: real64
  use mpi_f08, only: MPI_Comm, MPI_Comm_rank, MPI_Comm_size, MPI_Reduce, MPI_DOUBLE_PRECISION, &
       MPI_MAX, MPI_SUM, MPI_SUCCESS
  use simvue, only: simvue_run, SIMVUE_OK, SIMVUE_ERROR_IO
  implicit none
  private

  public :: simvue_mpi_log_reduced

  !> `call simvue_mpi_log_reduced(run, comm, names, values [, step] [, stat])`: collective over
  !> `comm` (a `type(MPI_Comm)` of mpi_f08, or the integer handle of `use mpi`). Every rank
  !> passes the same `names` and its own `values`; rank 0 logs the statistics at `step` (default:
  !> the run's automatic step); the other ranks log and write nothing and may pass a `run` that
  !> was never created. `stat` as in the `simvue` module; a failed reduction gives
  !> SIMVUE_ERROR_IO.
  interface simvue_mpi_log_reduced
     module procedure log_reduced_f08, log_reduced_int
  end interface simvue_mpi_log_reduced

  character(len=5), parameter :: SUFFIX(4) = [character(len=5) :: '.min', '.max', '.mean', '.sum']

contains

  subroutine log_reduced_f08(run, comm, names, values, step, stat)
    type(simvue_run), intent(inout) :: run
    type(MPI_Comm), intent(in) :: comm
    character(*), intent(in) :: names(:)
    real(real64), intent(in) :: values(:)
    integer, intent(in), optional :: step
    integer, intent(out), optional :: stat
    real(real64) :: send(3 * size(values)), recv(3 * size(values))
    character(len=len(names) + len(SUFFIX)) :: all_names(4 * size(names))
    real(real64) :: all_values(4 * size(names))
    integer :: rank, nranks, n, i, k, ierr(4)

    if (present(stat)) stat = SIMVUE_OK
    n = size(values)
    if (n == 0) return
    call MPI_Comm_rank(comm, rank, ierr(1))
    call MPI_Comm_size(comm, nranks, ierr(2))
    ! One MAX reduction of (v, -v) gives the maximum and minus the minimum; one SUM the sum.
    send(1:n) = values
    send(n + 1:2 * n) = -values
    send(2 * n + 1:) = values
    recv = 0
    call MPI_Reduce(send(1:2 * n), recv(1:2 * n), 2 * n, MPI_DOUBLE_PRECISION, MPI_MAX, 0, comm, &
         ierr(3))
    call MPI_Reduce(send(2 * n + 1:), recv(2 * n + 1:), n, MPI_DOUBLE_PRECISION, MPI_SUM, 0, &
         comm, ierr(4))
    if (any(ierr /= MPI_SUCCESS)) then
       if (present(stat)) stat = SIMVUE_ERROR_IO
       return
    end if
    if (rank /= 0) return

    do i = 1, n
       do k = 1, 4
          all_names(4 * (i - 1) + k) = trim(names(i)) // SUFFIX(k)
       end do
       all_values(4 * (i - 1) + 1:4 * i) = [-recv(n + i), recv(i), recv(2 * n + i) / nranks, &
            recv(2 * n + i)]
    end do
    call run%log_metrics(all_names, all_values, step=step, stat=stat)
  end subroutine log_reduced_f08

  subroutine log_reduced_int(run, comm, names, values, step, stat)
    type(simvue_run), intent(inout) :: run
    integer, intent(in) :: comm
    character(*), intent(in) :: names(:)
    real(real64), intent(in) :: values(:)
    integer, intent(in), optional :: step
    integer, intent(out), optional :: stat
    type(MPI_Comm) :: c
    c%MPI_VAL = comm
    call log_reduced_f08(run, c, names, values, step, stat)
  end subroutine log_reduced_int

end module simvue_mpi
