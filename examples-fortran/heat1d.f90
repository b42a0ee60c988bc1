!> heat1d: the explicit finite-difference solver of examples-c/heat1d.c for the 1-D heat equation
!>
!>     du/dt = alpha d2u/dx2,  u(0) = u(1) = 0,  u(x, 0) = 100 sin(pi x)
!>
!> tracked with the `simvue` Fortran module exactly as the C example tracks it: the same run
!> name, folder, tags, metadata keys and types, alerts, events, metric names and steps, and
!> final status (only the metadata value `language` differs). The exact solution decays as
!> exp(-alpha pi^2 t), so the error against it is logged too.
!>
!> Usage: heat1d_f [nx] [steps]
!> The mode comes from SIMVUE_MODE (offline by default here); offline runs go to
!> SIMVUE_OFFLINE_DIRECTORY (or ~/.simvue) for simvue-sender to upload.
!>
!> No call passes `stat`: a tracking problem is printed and the solver goes on (the run's
!> suppress_errors setting is on by default), as the C example's check() does.
program heat1d
  use, intrinsic :: iso_fortran_env, only: error_unit, real64
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  use simvue
  implicit none

  integer, parameter :: dp = real64
  real(dp), parameter :: pi = 3.14159265358979323846_dp
  real(dp), parameter :: alpha = 0.01_dp
  character(len=8), parameter :: names(3) = [character(len=8) :: 'residual', 't_max', 'error']

  type(simvue_run) :: run
  real(dp), allocatable :: u(:), un(:)
  real(dp) :: dx, dt, t, residual, tmax, exact
  integer :: nx, steps, i, n
  logical :: diverged

  nx = int_arg(1, 64)
  steps = int_arg(2, 2000)
  if (nx < 3 .or. steps < 1) then
     write (error_unit, '(a)') 'usage: heat1d [nx >= 3] [steps >= 1]'
     stop 2
  end if
  dx = 1.0_dp / (nx - 1)
  dt = 0.4_dp * dx * dx / alpha ! stable: alpha dt / dx^2 = 0.4 < 0.5

  allocate (u(0:nx - 1), un(0:nx - 1))
  do i = 0, nx - 1
     u(i) = 100.0_dp * sin(pi * i * dx)
  end do

  call run%new(SIMVUE_MODE_OFFLINE)
  call run%config(queue_blocking=.true., disable_resources_metrics=.true.)

  ! Metadata key by key and as one JSON object.
  call run%set_metadata('nx', nx)
  call run%set_metadata('alpha', alpha)
  call run%set_metadata('scheme', 'ftcs')
  call run%init(name='heat-1d-demo', metadata='{"dt": 0.0, "language": "Fortran"}', &
       tags=[character(len=4) :: 'heat', '1d'], description='1-D heat equation', &
       folder='/examples/heat')
  call run%set_metadata('dt', dt)

  write (*, '(5a)') 'run ', run%name(), ' (', run%id(), ')'

  call run%add_alert('residual-too-high', SIMVUE_ALERT_SOURCE_METRICS, frequency=1, window=1, &
       rule=SIMVUE_ALERT_RULE_IS_ABOVE, metric='residual', threshold=1.0_dp)
  call run%add_alert('temp-out-of-range', SIMVUE_ALERT_SOURCE_METRICS, frequency=1, window=1, &
       rule=SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE, metric='t_max', range_low=0.0_dp, &
       range_high=100.0_dp)
  call run%add_alert('diverged', SIMVUE_ALERT_SOURCE_EVENTS, frequency=1, pattern='diverged')
  call run%log_event('starting time loop')

  t = 0
  diverged = .false.
  do n = 0, steps - 1
     residual = 0
     tmax = 0
     un(0) = 0
     un(nx - 1) = 0
     do i = 1, nx - 2
        un(i) = u(i) + alpha * dt / (dx * dx) * (u(i + 1) - 2.0_dp * u(i) + u(i - 1))
        residual = max(residual, abs(un(i) - u(i)))
        tmax = max(tmax, un(i))
     end do
     u = un
     t = t + dt
     exact = 100.0_dp * exp(-alpha * pi * pi * t)
     if (mod(n, 10) == 0 .or. n == steps - 1) then
        call run%log_metrics(names, [residual, tmax, abs(tmax - exact)], step=n)
     end if
     if (.not. ieee_is_finite(tmax)) then
        diverged = .true.
        call run%log_event('solution diverged')
        exit
     end if
  end do

  call run%log_event('finished ' // itoa(steps) // ' steps, t = ' // fixed(t, 4) // &
       ', u_max = ' // fixed(u(nx / 2), 6))
  call run%update_metadata('{"t_final": 0.0}')
  call run%set_metadata('t_final', t)
  if (.not. diverged) call run%update_tags(['converged'])
  call run%set_folder_details(metadata='{"project": "demo"}', tags=['examples'], &
       description='Example runs')
  if (diverged) then
     call run%set_status(SIMVUE_STATUS_FAILED)
  else
     call run%set_status(SIMVUE_STATUS_COMPLETED)
  end if
  call run%close()
  call run%free()

  write (*, '(3a)') 'u(0.5, ' // fixed(t, 4) // ') = ' // fixed(u(nx / 2), 6), &
       ' (exact ', fixed(100.0_dp * exp(-alpha * pi * pi * t), 6) // ')'
  if (diverged) stop 1

contains

  !> The command-line argument `i` as an integer, or `default` when it is absent.
  integer function int_arg(i, default)
    integer, intent(in) :: i, default
    character(len=32) :: arg
    integer :: ios
    int_arg = default
    if (command_argument_count() < i) return
    call get_command_argument(i, arg)
    read (arg, *, iostat=ios) int_arg
    if (ios /= 0) int_arg = 0
  end function int_arg

  function itoa(k) result(s)
    integer, intent(in) :: k
    character(len=:), allocatable :: s
    character(len=16) :: buf
    write (buf, '(i0)') k
    s = trim(buf)
  end function itoa

  !> `x` with `d` decimals, as C's printf("%.<d>f") writes it (F0.d drops the leading zero).
  function fixed(x, d) result(s)
    real(dp), intent(in) :: x
    integer, intent(in) :: d
    character(len=:), allocatable :: s
    character(len=64) :: buf
    character(len=16) :: fmt
    write (fmt, '(a,i0,a)') '(f0.', d, ')'
    write (buf, fmt) x
    s = trim(adjustl(buf))
    if (s(1:1) == '.') then
       s = '0' // s
    else if (len(s) > 1) then
       if (s(1:2) == '-.') s = '-0' // s(2:)
    end if
  end function fixed

end program heat1d
