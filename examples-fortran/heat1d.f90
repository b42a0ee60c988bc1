!> heat1d: the explicit finite-difference solver of examples-c/heat1d.c for the 1-D heat equation
!>
!>     du/dt = alpha d2u/dx2,  u(0) = u(1) = 0,  u(x, 0) = 100 sin(pi x)
!>
!> tracked with the `simvue` Fortran module exactly as the C example tracks it: the same run
!> name, folder, tags, metadata keys and types, alerts, events, metric names and steps, saved
!> files and final status (only the metadata value `language` and the saved source differ). The
!> exact solution decays as exp(-alpha pi^2 t), so the error against it is logged too.
!>
!> Saved with the run, as by the C example: the input deck heat1d.in (input), this source file
!> (code), the final field heat1d_field.csv (output, a snapshot) and summary.json from memory
!> (output); the files have the C example's contents byte for byte. The source's path comes
!> from the preprocessor (the build defines HEAT1D_SOURCE, else __FILE__), so this file is
!> compiled with preprocessing on (CMake: the Fortran_PREPROCESS property; gfortran: -cpp).
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
  logical :: diverged, have_deck
  character(len=:), allocatable :: summary
  !> This program's source, saved as code.
  character(len=*), parameter :: source_file = &
#ifdef HEAT1D_SOURCE
HEAT1D_SOURCE
#else
__FILE__
#endif

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

  ! The input deck this run "reads", written here so that there is one to save.
  have_deck = write_deck('heat1d.in')

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

  ! The input deck and this program's source, named by their base names.
  if (have_deck) call run%save('heat1d.in', SIMVUE_CATEGORY_INPUT)
  call run%save(source_file, SIMVUE_CATEGORY_CODE)

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

  ! The final field, saved as a snapshot (the file may be rewritten later), and a summary from
  ! memory.
  if (write_field('heat1d_field.csv')) then
     call run%save('heat1d_field.csv', SIMVUE_CATEGORY_OUTPUT, snapshot=.true.)
  end if
  summary = '{"nx": ' // itoa(nx) // ', "steps": ' // itoa(steps) // ', "t_final": ' // &
       json_number(t) // ', "u_max": ' // json_number(u(nx / 2)) // ', "diverged": '
  if (diverged) then
     summary = summary // 'true}'
  else
     summary = summary // 'false}'
  end if
  call run%save_bytes('summary.json', summary, SIMVUE_CATEGORY_OUTPUT, filetype='application/json')
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

  !> Writes the input deck as the C example does; .true. on success.
  logical function write_deck(path)
    character(*), intent(in) :: path
    integer :: unit, ios, ios_close
    open (newunit=unit, file=path, status='replace', action='write', iostat=ios)
    if (ios == 0) then
       write (unit, '(a)', iostat=ios) 'nx = ' // itoa(nx)
       if (ios == 0) write (unit, '(a)', iostat=ios) 'steps = ' // itoa(steps)
       if (ios == 0) write (unit, '(a)', iostat=ios) 'alpha = 0.01'
       close (unit, iostat=ios_close)
       if (ios == 0) ios = ios_close
    end if
    write_deck = ios == 0
    if (.not. write_deck) write (error_unit, '(2a)') 'heat1d: cannot write ', path
  end function write_deck

  !> Writes the field as CSV ("x,u", then one line per point, 6 decimals); .true. on success.
  logical function write_field(path)
    character(*), intent(in) :: path
    integer :: unit, ios, ios_close, k
    open (newunit=unit, file=path, status='replace', action='write', iostat=ios)
    if (ios == 0) then
       write (unit, '(a)', iostat=ios) 'x,u'
       do k = 0, nx - 1
          if (ios /= 0) exit
          write (unit, '(a)', iostat=ios) fixed(k * dx, 6) // ',' // fixed(u(k), 6)
       end do
       close (unit, iostat=ios_close)
       if (ios == 0) ios = ios_close
    end if
    write_field = ios == 0
    if (.not. write_field) write (error_unit, '(2a)') 'heat1d: cannot write ', path
  end function write_field

  !> `x` as a JSON number with 6 decimals (null when it is not finite: JSON has no NaN).
  function json_number(x) result(s)
    real(dp), intent(in) :: x
    character(len=:), allocatable :: s
    if (ieee_is_finite(x)) then
       s = fixed(x, 6)
    else
       s = 'null'
    end if
  end function json_number

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
