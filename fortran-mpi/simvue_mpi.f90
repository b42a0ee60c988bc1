!> Optional MPI helper for the `simvue` module: built only where MPI's Fortran bindings are found
!> (libsimvue itself never links MPI), as the library simvue_fortran_mpi (CMake target
!> simvue::fortran_mpi).
!>
!> One rank (rank 0 of the communicator) owns the run; the others hold no run at all. Each step,
!> every rank calls `simvue_mpi_log_reduced` with its own values of some metrics; rank 0 logs
!> their minimum, maximum, mean and sum over the ranks as `<name>.min`, `<name>.max`,
!> `<name>.mean` and `<name>.sum`, in one set of metrics. `simvue_mpi_record_context` records
!> the job's size in rank 0's run and `simvue_mpi_log_resources` the CPU and memory every rank
!> uses (as simvue_mpi.h does for C).
module simvue_mpi
  use, intrinsic :: iso_fortran_env, only: real64
  use mpi_f08, only: MPI_Comm, MPI_Comm_rank, MPI_Comm_size, MPI_Reduce, MPI_DOUBLE_PRECISION, &
       MPI_MAX, MPI_SUM, MPI_SUCCESS, MPI_Comm_split_type, MPI_COMM_TYPE_SHARED, MPI_INFO_NULL, &
       MPI_Comm_free, MPI_INTEGER, MPI_Get_version
  use simvue, only: simvue_run, SIMVUE_OK, SIMVUE_ERROR_IO, simvue_resources_sample
  implicit none
  private

  public :: simvue_mpi_log_reduced, simvue_mpi_record_context, simvue_mpi_log_resources

  !> `call simvue_mpi_record_context(run, comm [, stat])`: collective over `comm`; rank 0 adds
  !> `"mpi": {"ranks": <size>, "hosts": <nodes>, "version": "<MPI version>"}` to its run's
  !> metadata (before or after `init`). Other ranks may pass a run that was never created.
  interface simvue_mpi_record_context
     module procedure record_context_f08, record_context_int
  end interface simvue_mpi_record_context

  !> `call simvue_mpi_log_resources(run, comm [, step] [, stat])`: collective over `comm`;
  !> every rank samples its own process tree (CPU percent since its previous call, resident
  !> memory in MiB) and rank 0 logs their sum and maximum over the ranks as
  !> `resources/ranks.cpu.usage.percentage.sum` / `.max` and
  !> `resources/ranks.cpu.usage.memory.sum` / `.max`. Call it every few steps.
  interface simvue_mpi_log_resources
     module procedure log_resources_f08, log_resources_int
  end interface simvue_mpi_log_resources

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

  subroutine record_context_f08(run, comm, stat)
    type(simvue_run), intent(inout) :: run
    type(MPI_Comm), intent(in) :: comm
    integer, intent(out), optional :: stat
    type(MPI_Comm) :: node
    integer :: rank, nranks, node_rank, leader, hosts, version, subversion, ierr(7)
    character(len=160) :: json

    if (present(stat)) stat = SIMVUE_OK
    hosts = 0
    call MPI_Comm_rank(comm, rank, ierr(1))
    call MPI_Comm_size(comm, nranks, ierr(2))
    call MPI_Get_version(version, subversion, ierr(3))
    call MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, node, ierr(4))
    call MPI_Comm_rank(node, node_rank, ierr(5))
    call MPI_Comm_free(node, ierr(6))
    leader = merge(1, 0, node_rank == 0)
    call MPI_Reduce(leader, hosts, 1, MPI_INTEGER, MPI_SUM, 0, comm, ierr(7))
    if (any(ierr /= MPI_SUCCESS)) then
       if (present(stat)) stat = SIMVUE_ERROR_IO
       return
    end if
    if (rank /= 0) return
    write (json, '(a,i0,a,i0,a,i0,a,i0,a)') '{"mpi": {"ranks": ', nranks, ', "hosts": ', hosts, &
         ', "version": "', version, '.', subversion, '"}}'
    call run%update_metadata(trim(json), stat=stat)
  end subroutine record_context_f08

  subroutine record_context_int(run, comm, stat)
    type(simvue_run), intent(inout) :: run
    integer, intent(in) :: comm
    integer, intent(out), optional :: stat
    type(MPI_Comm) :: c
    c%MPI_VAL = comm
    call record_context_f08(run, c, stat)
  end subroutine record_context_int

  subroutine log_resources_f08(run, comm, step, stat)
    type(simvue_run), intent(inout) :: run
    type(MPI_Comm), intent(in) :: comm
    integer, intent(in), optional :: step
    integer, intent(out), optional :: stat
    character(len=*), parameter :: NAMES(4) = [character(len=41) :: &
         'resources/ranks.cpu.usage.percentage.sum', 'resources/ranks.cpu.usage.percentage.max', &
         'resources/ranks.cpu.usage.memory.sum', 'resources/ranks.cpu.usage.memory.max']
    real(real64) :: local(2), total(2), most(2)
    integer :: rank, rc, ierr(3)

    if (present(stat)) stat = SIMVUE_OK
    call MPI_Comm_rank(comm, rank, ierr(1))
    call simvue_resources_sample(0, local(1), local(2), stat=rc)
    if (rc /= SIMVUE_OK) local = 0
    total = 0
    most = 0
    call MPI_Reduce(local, total, 2, MPI_DOUBLE_PRECISION, MPI_SUM, 0, comm, ierr(2))
    call MPI_Reduce(local, most, 2, MPI_DOUBLE_PRECISION, MPI_MAX, 0, comm, ierr(3))
    if (any(ierr /= MPI_SUCCESS)) then
       if (present(stat)) stat = SIMVUE_ERROR_IO
       return
    end if
    if (rank /= 0) return
    call run%log_metrics(NAMES, [total(1), most(1), total(2), most(2)], step=step, stat=stat)
  end subroutine log_resources_f08

  subroutine log_resources_int(run, comm, step, stat)
    type(simvue_run), intent(inout) :: run
    integer, intent(in) :: comm
    integer, intent(in), optional :: step
    integer, intent(out), optional :: stat
    type(MPI_Comm) :: c
    c%MPI_VAL = comm
    call log_resources_f08(run, c, step, stat)
  end subroutine log_resources_int

end module simvue_mpi
