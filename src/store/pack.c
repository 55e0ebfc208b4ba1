/* placeholder: src/store/pack.c is being written */
typedef int placeholder_src_store_pack_c;
