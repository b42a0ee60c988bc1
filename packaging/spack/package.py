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
# --no-checksum. Written for Spack 0.23 and later (language dependencies c, cxx, fortran); it has
# not been run in a Spack installation yet.
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
        return [
            self.define_from_variant("SIMVUE_ENABLE_FORTRAN", "fortran"),
            self.define_from_variant("SIMVUE_ENABLE_MPI", "mpi"),
            self.define("SIMVUE_INSTALL_SHARED", "libs=shared" in spec),
            self.define("SIMVUE_INSTALL_STATIC", "libs=static" in spec),
            self.define("SIMVUE_CARGO_PROFILE", "release"),
            # Tests (and the examples they run) only with `spack install --test`; no valgrind
            # run (slow, and not part of the package) and no tarball test (this is the tarball).
            self.define("SIMVUE_BUILD_TESTS", self.run_tests),
            self.define("SIMVUE_BUILD_EXAMPLES", self.run_tests),
            self.define("SIMVUE_TEST_VALGRIND", False),
            self.define("SIMVUE_TEST_DIST", False),
        ]
