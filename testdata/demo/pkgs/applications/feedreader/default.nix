{ mkPackage, libhttp, libxml }:

mkPackage {
  pname = "feedreader";
  version = "0.3.0";
  deps = [ libhttp libxml ];
  uses = {
    libhttp = [ "http_get" ];
    libxml = [ "xml_parse" "xml_xpath" ];
  };
  programs.feedreader = ''
    echo "feedreader: no feeds configured; TLS by $(cat "$(lib_path libcrypto)/share/libcrypto/release")"
  '';
  meta.maintainers = [ "erin" ];
}
