{
  "targets": [
    {
      "target_name": "portunus",
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
            "native/addon.cc",
            "native/common/system-error.cc",
            "native/common/poll-handle.cc",
            "native/unix/abstract-socket.cc",
            "native/unix/acceptor.cc",
            "native/unix/datagram.cc",
            "native/unix/endpoint.cc",
            "native/unix/fd-ops.cc",
            "native/unix/peek.cc",
            "native/unix/peer-credentials.cc",
            "native/unix/readable-watcher.cc",
            "native/unix/reuseport-listener.cc",
            "native/unix/socket-info.cc"
          ]
        }],
        ["OS == 'win'", {
          "sources": [
            "native/win/addon.cc",
            "native/win/handle-ops.cc",
            "native/win/pipe-endpoint.cc",
            "native/win/pipe-listener.cc",
            "native/win/socket-locator.cc",
            "native/win/tcp-acceptor.cc",
            "native/win/win-error.cc"
          ],
          "defines": ["_WIN32_WINNT=0x0A00"],
          "libraries": ["ws2_32.lib", "advapi32.lib"],
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17"] } }
        }]
      ]
    }
  ]
}
