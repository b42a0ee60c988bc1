"""The Spack recipe and the EasyBuild easyconfig name only CMake options that CMakeLists.txt
defines (or documented variables of the find modules it calls: MPI_<lang>_COMPILER,
Python3_EXECUTABLE), use every Spack variant, and build the crate's version (ctest:
packaging_recipes).

A recipe that passes an option CMake does not know builds something else than it says, with
only a warning at the end of the configure log that nobody reads.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
problems: list[str] = []

# Variables of CMake itself a recipe may set.
CMAKE_BUILTIN = re.compile(r"CMAKE_[A-Z_]+")
# Documented variables of the find modules CMakeLists.txt uses (which MPI compiler, which
# Python): allowed only while CMakeLists.txt calls that find_package.
FIND_MODULE_VARS = {
    "MPI": re.compile(r"MPI_(C|CXX|Fortran)_COMPILER"),
    "Python3": re.compile(r"Python3_EXECUTABLE"),
}


def expect(cond: bool, what: str) -> None:
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        problems.append(what)


def cmake_options() -> set[str]:
    text = (ROOT / "CMakeLists.txt").read_text()
    names = set(re.findall(r"^\s*(?:option|cmake_dependent_option)\(\s*([A-Za-z0-9_]+)", text, re.M))
    names |= set(re.findall(r"^\s*set\(\s*([A-Za-z0-9_]+)\b[^)]*\bCACHE\b", text, re.M | re.S))
    return names


def find_module_var(name: str) -> bool:
    """Whether `name` is a variable of a find module that CMakeLists.txt uses."""
    text = (ROOT / "CMakeLists.txt").read_text()
    return any(pattern.fullmatch(name) and re.search(rf"find_package\(\s*{module}\b", text)
               for module, pattern in FIND_MODULE_VARS.items())


def spack(path: Path) -> tuple[list[str], set[str], set[str], list[str]]:
    """Returns the -D names of cmake_args, the variants, those used, and the versions."""
    tree = ast.parse(path.read_text())
    defines, variants, used, versions = [], set(), set(), []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        args = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if name in ("define", "define_from_variant") and args:
            defines.append(args[0])
            if name == "define_from_variant" and len(args) > 1:
                used.add(args[1])
        elif name == "variant" and args:
            variants.add(args[0])
        elif name == "version" and args:
            versions.append(args[0])
    # Variants read from the spec ("libs=shared" in spec, "+mpi" in spec).
    for s in re.findall(r'"([+~]?[a-z_]+)(?:=[a-z_,]+)?"\s+in\s+spec', path.read_text()):
        used.add(s.lstrip("+~"))
    return defines, variants, used, versions


def main() -> int:
    options = cmake_options()
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    print(f"CMakeLists.txt options: {' '.join(sorted(options))}")

    recipe = ROOT / "packaging/spack/package.py"
    defines, variants, used, versions = spack(recipe)
    expect(bool(defines), f"{recipe.name}: cmake_args names {len(defines)} options")
    for d in defines:
        expect(d in options or CMAKE_BUILTIN.fullmatch(d) is not None or find_module_var(d),
               f"{recipe.name}: -D{d} is an option of CMakeLists.txt or of a find module it uses")
    for v in sorted(variants):
        expect(v in used, f"{recipe.name}: variant {v} reaches cmake_args")
    expect(version in versions, f"{recipe.name}: version({version!r}) (Cargo.toml's)")

    easyconfigs = sorted((ROOT / "packaging/easybuild").glob("*.eb"))
    expect(bool(easyconfigs), "packaging/easybuild holds an easyconfig")
    for eb in easyconfigs:
        text = eb.read_text()
        names = re.findall(r"-D([A-Za-z0-9_]+)=", text)
        expect(bool(names), f"{eb.name}: configopts names {len(names)} options")
        for d in names:
            expect(d in options or CMAKE_BUILTIN.fullmatch(d) is not None,
                   f"{eb.name}: -D{d} is an option of CMakeLists.txt")
        m = re.search(r"^version\s*=\s*'([^']+)'", text, re.M)
        expect(m is not None and m.group(1) == version and eb.name.startswith(f"simvue-{version}-"),
               f"{eb.name}: version {m and m.group(1)} (Cargo.toml's {version})")

    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
