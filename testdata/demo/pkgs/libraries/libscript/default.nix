{ mkPackage, libcore, libffi, libreadline }:

mkPackage {
  pname = "libscript";
  version = "3.11.0";
  deps = [ libcore libffi libreadline ];
  exports = [ "script_eval" "script_repl" ];
  uses = {
    libcore = [ "core_alloc" "core_fmt" ];
    libffi = [ "ffi_call" ];
    libreadline = [ "readline" ];
  };
  meta.maintainers = [ "dave" ];
}
