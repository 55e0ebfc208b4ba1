/* placeholder: src/store/store.c is being written */
typedef int placeholder_src_store_store_c;
