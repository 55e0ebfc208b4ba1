/* placeholder: src/http/device.c is being written */
typedef int placeholder_src_http_device_c;
