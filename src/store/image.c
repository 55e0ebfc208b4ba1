/* placeholder: src/store/image.c is being written */
typedef int placeholder_src_store_image_c;
