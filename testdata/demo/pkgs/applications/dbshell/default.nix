{ mkPackage, libdb, libreadline }:

mkPackage {
  pname = "dbshell";
  version = "5.3.28";
  deps = [ libdb libreadline ];
  uses = {
    libdb = [ "db_open" "db_query" ];
    libreadline = [ "readline" ];
  };
  programs.dbshell = ''
    echo "dbshell: libdb $libdb_version"
  '';
  meta.maintainers = [ "erin" ];
}
