// Whether a tool a test needs from Debian is here: the reason it is not (with the package to install), or false.

import { execFileSync } from "node:child_process";

/** Debian's interpreter, not whatever `python3` is first on PATH (pyenv and the like). */
export const PYTHON = "/usr/bin/python3";

/** Why `file args` cannot run here (`why`), or false when it exits 0. */
export function toolMissing(file: string, args: string[], why: string): string | false {
  try {
    execFileSync(file, args, { stdio: "ignore" });
    return false;
  } catch {
    return why;
  }
}

/** Why Debian's python3 cannot import `module` (install `aptPackage`), or false. */
export function pythonModuleMissing(module: string, aptPackage: string): string | false {
  return toolMissing(
    PYTHON,
    ["-c", `import ${module}`],
    `${PYTHON} cannot import ${module} (apt install ${aptPackage})`,
  );
}
