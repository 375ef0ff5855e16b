{ mkPackage, libtls, libui }:

mkPackage {
  pname = "chat";
  version = "0.9.0";
  deps = [ libtls libui ];
  uses = {
    libtls = [ "tls_wrap" "tls_handshake" ];
    libui = [ "ui_window" ];
  };
  programs.chat = ''
    echo "chat: offline; TLS by $(cat "$(lib_path libcrypto)/share/libcrypto/release")"
  '';
  meta.maintainers = [ "bob" ];
}
