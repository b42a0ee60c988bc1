# Spack recipe for libsimvue, built from the release tarball that scripts/dist.sh writes (the
# sources with every crate vendored: the build needs no network).
#
#   scripts/dist.sh                                  # dist/simvue-<version>.tar.gz
#   mkdir -p mirror/simvue && cp dist/simvue-*.tar.gz mirror/simvue/
#   spack mirror add simvue-dist file://$PWD/mirror
#   # this file goes into a package repository as .../packages/simvue/package.py
#   # (`spack repo create` makes one; its layout depends on the Spack version), then:
#   spack repo add <that repository>
#   spack install --test=root simvue +fortran +mpi   # --test=root: ctest runs after the build
#
# A version needs the sha256 of its tarball (scripts/dist.sh prints it); without one, pass
# --no-checksum. 0.1.0 has none yet: the tarball is made from the working tree and changes with
# every commit until the release. Written for Spack 0.23 and later (language dependencies c,
# cxx, fortran); run with Spack 1.1.0 and its builtin packages v2025.11.0 (the README says
# how): packaging/spack/test-spack.sh installs it and builds programs against it, end to end.
# tests/packaging/check_recipes.py checks that every CMake option named here exists.

from spack.package import *  # noqa: F401,F403

try:  # Spack 1.0 and later: the build systems live in the builtin package repository.
    from spack_repo.builtin.build_systems.cmake import CMakePackage  # noqa: F811
except ImportError:  # Spack 0.23: `from spack.package import *` has CMakePackage.
    pass


class Simvue(CMakePackage):
    """Native client library of the Simvue simulation tracking service for C, C++ and Fortran:
    a Rust library with a C ABI (libsimvue.so, simvue.h), a header-only C++17 layer, a Fortran
    2008 module and MPI helpers. It writes the offline cache of the Python client, which
    `simvue-sender` uploads from a login node."""

    homepage = "https://simvue.io"
    # Where Spack looks when no mirror holds simvue/simvue-<version>.tar.gz: put the tarball
    # there, or point this at your site's copy.
    url = "file:///opt/sources/simvue/simvue-0.1.0.tar.gz"

    license("Apache-2.0")

    version("0.1.0")

    variant("fortran", default=True, description="Build and install the Fortran module")
    variant("mpi", default=False, description="Build the MPI helpers (C header, Fortran module)")
    variant(
        "libs",
        default="shared,static",
        values=("shared", "static"),
        multi=True,
        description="Install the shared library, the static one, or both",
    )

    depends_on("c", type="build")
    depends_on("cxx", type="build")
    depends_on("fortran", type="build", when="+fortran")
    depends_on("cmake@3.19:", type="build")
    # rust-version in Cargo.toml: from 1.81 a panic reaching the C boundary aborts.
    depends_on("rust@1.81:", type="build")
    depends_on("mpi", when="+mpi")
    # ctest: the Python helpers of the tests and pkg-config for the consumer test.
    depends_on("python@3.8:", type="test")
    depends_on("pkgconfig", type="test")

    def setup_build_environment(self, env):
        # cargo writes its caches here and never into the user's ~/.cargo; the tarball's
        # .cargo/config.toml points it at the vendored crates, offline.
        env.set("CARGO_HOME", join_path(self.stage.path, "cargo-home"))
        env.set("CARGO_NET_OFFLINE", "true")

    def cmake_args(self):
        spec = self.spec
        args = [
            self.define_from_variant("SIMVUE_ENABLE_FORTRAN", "fortran"),
            self.define_from_variant("SIMVUE_ENABLE_MPI", "mpi"),
            self.define("SIMVUE_INSTALL_SHARED", "libs=shared" in spec),
            self.define("SIMVUE_INSTALL_STATIC", "libs=static" in spec),
            self.define("SIMVUE_CARGO_PROFILE", "release"),
            # Tests (and the examples they run) only with `spack install --test`.
            self.define("SIMVUE_BUILD_TESTS", self.run_tests),
            self.define("SIMVUE_BUILD_EXAMPLES", self.run_tests),
        ]
        if spec.satisfies("+mpi"):
            # The spec's MPI, not whichever mpicc comes first on PATH (FindMPI's variables).
            args.append(self.define("MPI_C_COMPILER", spec["mpi"].mpicc))
            if spec.satisfies("+fortran"):
                args.append(self.define("MPI_Fortran_COMPILER", spec["mpi"].mpifc))
        if self.run_tests:
            # ctest's Python helpers run with the spec's Python (FindPython3's variable).
            args.append(self.define("Python3_EXECUTABLE", spec["python"].command.path))
            # Options that exist only with the tests (CMake warns of the others as unused): no
            # valgrind run (slow, and not part of the package) and no tarball test (this is
            # the tarball).
            args += [
                self.define("SIMVUE_TEST_VALGRIND", False),
                self.define("SIMVUE_TEST_DIST", False),
            ]
        return args

    @run_after("install")
    def check_mpi_module(self):
        # CMake builds the MPI helpers only where it finds MPI (and mpi_f08 for Fortran), and
        # says so in one line of the configure log: +mpi must not install a package without them.
        if self.spec.satisfies("+mpi+fortran") and not find(self.prefix, "simvue_mpi.mod"):
            raise InstallError(
                "+mpi: CMake found no usable MPI with mpi_f08 (see 'simvue: MPI for C' in the "
                "configure log), so the Fortran MPI module was not built"
            )
