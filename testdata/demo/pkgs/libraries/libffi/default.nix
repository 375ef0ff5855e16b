{ mkPackage }:

mkPackage {
  pname = "libffi";
  version = "3.4.6";
  exports = [ "ffi_prep_cif" "ffi_call" ];
  meta.maintainers = [ "dave" ];
}
