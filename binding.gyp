{
  "targets": [
    {
      "target_name": "portunus",
      "sources": ["native/addon.cc", "native/common/system-error.cc", "native/common/poll-handle.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "conditions": [
        ["OS != 'win'", {
          "sources": [
            "native/unix/abstract-socket.cc",
            "native/unix/acceptor.cc",
            "native/unix/endpoint.cc",
            "native/unix/fd-ops.cc",
            "native/unix/peer-credentials.cc",
            "native/unix/reuseport-listener.cc",
            "native/unix/socket-info.cc"
          ]
        }]
      ]
    }
  ]
}
