# oldtool has not built for a long time: it links against an allocator libcore dropped before
# 1.0. Marked broken, so a wave does not schedule it.
{ mkPackage, libcore }:

mkPackage {
  pname = "oldtool";
  version = "0.1.0";
  deps = [ libcore ];
  uses.libcore = [ "core_kr_alloc" ];
  programs.oldtool = ''
    echo "oldtool"
  '';
  meta = {
    maintainers = [ "dave" ];
    broken = true;
  };
}
