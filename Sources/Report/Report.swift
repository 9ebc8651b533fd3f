// Morning report rendering lives here.
