/* placeholder: src/codec/json.c is being written */
typedef int placeholder_src_codec_json_c;
