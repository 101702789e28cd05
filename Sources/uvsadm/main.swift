print("uvsadm")
