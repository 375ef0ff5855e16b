{ mkPackage, libxml, libparse, libscript }:

mkPackage {
  pname = "docgen";
  version = "1.9.0";
  deps = [ libxml libparse libscript ];
  uses = {
    libxml = [ "xml_parse" ];
    libparse = [ "parse_grammar" ];
    libscript = [ "script_eval" ];
  };
  programs.docgen = ''
    echo "docgen: no sources"
  '';
  meta.maintainers = [ "carol" ];
}
