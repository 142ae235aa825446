from django.contrib import admin

# The admin index with a link to the console (issue 14); the stock index otherwise.
admin.site.index_template = "admin/console_index.html"
